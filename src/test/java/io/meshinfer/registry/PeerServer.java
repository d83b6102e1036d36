package io.meshinfer.registry;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;

/**
 * A pekko-http server on 127.0.0.1 playing several peers at once: each peer is a path
 * prefix ({@code <url>/<behaviour>}) under which {@code GET /v1/artifacts/<sha256>} answers
 * with the bytes registered for that sha256, served the way the behaviour says (intact,
 * altered, cut off, too long, stalled, missing, or held until a gate opens). Counts the
 * requests each peer received.
 */
final class PeerServer implements AutoCloseable {
    /** How a peer answers. */
    enum Behaviour { GOOD, WRONG_BYTES, TRUNCATED, OVERSIZED_CHUNKED, OVERSIZED_LENGTH, STALL, MISSING, GATED }

    private final Map<String, byte[]> artifacts = new ConcurrentHashMap<>();
    private final Map<Behaviour, AtomicInteger> hits = new ConcurrentHashMap<>();
    private final Map<String, CompletableFuture<Done>> gates = new ConcurrentHashMap<>();
    private final ServerBinding binding;

    PeerServer(ActorSystem<?> system) throws Exception {
        for (Behaviour b : Behaviour.values()) {
            hits.put(b, new AtomicInteger());
        }
        binding = Http.get(system).newServerAt("127.0.0.1", 0).bind(new Routes().route())
                .toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    /** Serves {@code bytes} as the artifact named by their sha256, which it returns. */
    String serve(byte[] bytes) {
        String sha = ArtifactStore.sha256(bytes);
        artifacts.put(sha, bytes);
        return sha;
    }

    /** The base URL of the peer behaving as {@code b}. */
    String peer(Behaviour b) {
        return "http://127.0.0.1:" + binding.localAddress().getPort() + "/" + b.name().toLowerCase();
    }

    int hits(Behaviour b) {
        return hits.get(b).get();
    }

    /** The gate GATED requests for {@code sha256} wait on. */
    CompletableFuture<Done> gate(String sha256) {
        return gates.computeIfAbsent(sha256, s -> new CompletableFuture<>());
    }

    @Override
    public void close() throws Exception {
        gates.values().forEach(g -> g.complete(Done.getInstance()));
        binding.unbind().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    private final class Routes extends AllDirectives {
        Route route() {
            return pathPrefix(PathMatchers.segment(), peer -> path(PathMatchers.segment("v1").slash("artifacts")
                    .slash(PathMatchers.segment()), sha -> get(() -> answer(Behaviour.valueOf(peer.toUpperCase()),
                    sha))));
        }

        private Route answer(Behaviour b, String sha) {
            hits.get(b).incrementAndGet();
            byte[] bytes = artifacts.get(sha);
            if (bytes == null || b == Behaviour.MISSING) {
                return complete(StatusCodes.NOT_FOUND, "{\"error\": \"artifact " + sha + " is not on this node\"}");
            }
            int half = bytes.length / 2;
            ByteString first = ByteString.fromArray(bytes, 0, half);
            ByteString rest = ByteString.fromArray(bytes, half, bytes.length - half);
            return switch (b) {
                case GOOD -> complete(HttpResponse.create().withEntity(
                        HttpEntities.create(ContentTypes.APPLICATION_OCTET_STREAM, bytes)));
                case WRONG_BYTES -> {
                    byte[] altered = Arrays.copyOf(bytes, bytes.length);
                    altered[altered.length / 3] ^= 0x5a;
                    yield complete(HttpResponse.create().withEntity(
                            HttpEntities.create(ContentTypes.APPLICATION_OCTET_STREAM, altered)));
                }
                case TRUNCATED -> complete(HttpResponse.create().withEntity(HttpEntities.createChunked(
                        ContentTypes.APPLICATION_OCTET_STREAM,
                        Source.single(first).concat(Source.failed(new IllegalStateException("peer disk gone"))))));
                case OVERSIZED_CHUNKED -> complete(HttpResponse.create().withEntity(HttpEntities.createChunked(
                        ContentTypes.APPLICATION_OCTET_STREAM,
                        Source.from(java.util.List.of(first, rest, ByteString.fromString("trailing garbage"))))));
                case OVERSIZED_LENGTH -> complete(HttpResponse.create().withEntity(HttpEntities.create(
                        ContentTypes.APPLICATION_OCTET_STREAM, Arrays.copyOf(bytes, bytes.length + 100))));
                case STALL -> complete(HttpResponse.create().withEntity(HttpEntities.createChunked(
                        ContentTypes.APPLICATION_OCTET_STREAM, Source.single(first).concat(Source.maybe()))));
                case GATED -> completeWithFuture(gate(sha).thenApply(d -> HttpResponse.create().withEntity(
                        HttpEntities.create(ContentTypes.APPLICATION_OCTET_STREAM, bytes))));
                case MISSING -> throw new IllegalStateException("handled above");
            };
        }
    }
}
