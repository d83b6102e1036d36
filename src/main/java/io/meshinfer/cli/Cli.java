package io.meshinfer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;

/** Small helpers shared by the CLI commands. */
final class Cli {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private Cli() {
    }

    /** The message of a gateway error body {@code {"error": "..."}}, or the body itself. */
    static String errorText(String body) {
        try {
            JsonNode n = MAPPER.readTree(body);
            if (n != null && n.hasNonNull("error")) {
                return n.get("error").asText();
            }
        } catch (IOException e) {
            return body;
        }
        return body;
    }

    static String pretty(String json) {
        try {
            return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(MAPPER.readTree(json));
        } catch (IOException e) {
            return json;
        }
    }
}
