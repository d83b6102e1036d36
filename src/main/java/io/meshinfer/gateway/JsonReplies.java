package io.meshinfer.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Iterator;
import java.util.Set;
import java.util.TreeSet;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;

/** JSON answers and JSON body checks shared by the gateway's route classes. */
final class JsonReplies {
    private JsonReplies() {
    }

    static HttpResponse json(ObjectMapper mapper, StatusCode status, ObjectNode body) {
        try {
            return HttpResponse.create().withStatus(status)
                    .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, mapper.writeValueAsBytes(body)));
        } catch (IOException e) {
            throw new IllegalStateException("cannot write JSON", e);
        }
    }

    /** {@code {"error": message}} with {@code status}. */
    static HttpResponse error(ObjectMapper mapper, StatusCode status, String message) {
        return json(mapper, status, mapper.createObjectNode().put("error", message));
    }

    /** Refuses a field of {@code n} that is not {@code known}, naming it and {@code what} it is in. */
    static void unknownFields(JsonNode n, Set<String> known, String what) {
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!known.contains(f)) {
                throw new IllegalArgumentException("unknown field \"" + f + "\" in the " + what + " (known: "
                        + new TreeSet<>(known) + ")");
            }
        }
    }
}
