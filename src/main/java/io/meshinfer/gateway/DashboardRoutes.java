package io.meshinfer.gateway;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * The dashboard: {@code GET /ui} (and {@code /ui/}) is {@code ui/index.html} from the
 * classpath, {@code GET /ui/<file>} the other files under {@code ui/} with the content type
 * their extension names, and {@code GET /v1/ui/stats} this node's per-version counters
 * ({@link DashboardStats}). The page reads only this node's JSON endpoints; its
 * Content-Security-Policy forbids loading anything from elsewhere. The page's files are open
 * ({@link #pages()}: they hold no data); the stats ({@link #stats()}) are served behind
 * authentication like {@code /v1/cluster}, and the page sends the token the user gives it.
 */
final class DashboardRoutes extends AllDirectives {
    private static final String RESOURCES = "ui";
    private static final List<HttpHeader> PAGE_HEADERS = List.of(
            RawHeader.create("Content-Security-Policy", "default-src 'self'; img-src 'self' data:;"
                    + " frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
            RawHeader.create("X-Content-Type-Options", "nosniff"),
            RawHeader.create("Cache-Control", "no-cache"));

    private final NodeBackend backend;
    private final ObjectMapper mapper;

    DashboardRoutes(NodeBackend backend, ObjectMapper mapper) {
        this.backend = backend;
        this.mapper = mapper;
    }

    /** {@code /ui} and its files: open, with or without authentication. */
    Route pages() {
        ClassLoader loader = DashboardRoutes.class.getClassLoader();
        return pathPrefix(RESOURCES, () -> get(() -> respondWithHeaders(PAGE_HEADERS, () -> concat(
                pathEndOrSingleSlash(() -> getFromResource(RESOURCES + "/index.html",
                        ContentTypes.TEXT_HTML_UTF8, loader)),
                getFromResourceDirectory(RESOURCES, loader)))));
    }

    /** {@code ui/stats} under {@code /v1}: to be placed where authentication applies. */
    Route statsRoute() {
        return path(PathMatchers.segment("ui").slash("stats"), () -> get(this::stats));
    }

    private Route stats() {
        return completeWithFuture(CompletableFuture.supplyAsync(() -> {
            try {
                return HttpResponse.create().withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON,
                        mapper.writeValueAsBytes(DashboardStats.toJson(backend.nodeName(),
                                System.currentTimeMillis(), backend.metrics().snapshot(), mapper))));
            } catch (JsonProcessingException e) {
                throw new UncheckedIOException(e);
            }
        }, backend.blocking()));
    }
}
