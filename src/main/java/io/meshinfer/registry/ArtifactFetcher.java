package io.meshinfer.registry;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.HttpsConnectionContext;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.Connection;
import org.apache.pekko.http.javadsl.settings.ClientConnectionSettings;
import org.apache.pekko.http.javadsl.settings.ConnectionPoolSettings;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.IOResult;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.FileIO;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.util.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.concurrent.duration.FiniteDuration;

/**
 * Brings a model artifact this node lacks from a peer that has it, peer to peer: any node
 * holding the file serves it ({@code GET <peer>/v1/artifacts/<sha256>}, where {@code <peer>}
 * is the peer's mutual-TLS artifact port when the cluster runs TLS, else its gateway); there
 * is no central file server.
 *
 * <p>One transfer is a Pekko stream from the response entity's bytes through a
 * {@link DigestStage} (counts the bytes, refuses more than the manifest's size, feeds a
 * SHA-256 digest) into {@link FileIO#toPath} on a fresh incoming file, with backpressure
 * from the disk to the TCP connection. The file enters the store only if exactly the
 * manifest's size arrived and it hashes to the expected sha256. Any failure (HTTP error,
 * refused connection, truncated or oversized body, wrong hash, no bytes for
 * {@code fetch-idle-timeout}, over {@code fetch-timeout}) deletes the partial file and
 * moves on to the next peer; the fetch fails, naming every peer's failure, only when none
 * served it.
 *
 * <p>Peers are tried in the order of a {@link PeerRanking} (nodes known to hold the
 * artifact first), shuffled among equals. Concurrent fetches of the same sha256 on this
 * node share one transfer; at most {@code max-concurrent-fetches} transfers run at once,
 * later ones wait for a slot. A local file is re-hashed before it is trusted (a corrupt
 * one is deleted and fetched again). Thread-safe; nothing here blocks a stream or actor
 * thread except {@link #ensure}, which is for the blocking executor.
 */
public final class ArtifactFetcher {
    private static final Logger log = LoggerFactory.getLogger(ArtifactFetcher.class);

    private final ArtifactStore store;
    private final ArtifactSettings settings;
    private final PeerRanking ranking;
    private final Http http;
    private final HttpsConnectionContext https;
    private final ConnectionPoolSettings pool;
    private final org.apache.pekko.event.LoggingAdapter httpLog;
    private final Materializer materializer;
    private final Executor fileIo;
    private final FetchSlots slots;
    private final Map<String, CompletableFuture<Path>> inFlight = new ConcurrentHashMap<>();

    /**
     * @param system the actor system whose HTTP client, materializer and blocking-IO
     *               dispatcher transfers use (the node's process-wide local system)
     * @param ranking which peers to try first for a given artifact
     */
    public ArtifactFetcher(ArtifactStore store, ActorSystem<?> system, ArtifactSettings settings,
                           PeerRanking ranking) {
        this(store, system, settings, ranking, Optional.empty());
    }

    /**
     * @param https how to reach peers whose URL is {@code https:} (e.g. presenting this node's
     *              certificate and trusting only the cluster's CA); empty: pekko-http's default
     *              (the JVM's trusted CAs)
     */
    public ArtifactFetcher(ArtifactStore store, ActorSystem<?> system, ArtifactSettings settings,
                           PeerRanking ranking, Optional<HttpsConnectionContext> https) {
        this.store = store;
        this.settings = settings;
        this.ranking = ranking;
        this.http = Http.get(system);
        this.https = https.orElseGet(http::defaultClientHttpsContext);
        // retries are ours (the next peer), and a stalled connection must end within the idle timeout
        this.pool = ConnectionPoolSettings.create(system.classicSystem())
                .withMaxRetries(0)
                .withConnectionSettings(ClientConnectionSettings.create(system.classicSystem())
                        .withConnectingTimeout(finite(settings.connectTimeout()))
                        .withIdleTimeout(finite(settings.idleTimeout())));
        this.httpLog = system.classicSystem().log();
        this.materializer = Materializer.matFromSystem(system);
        this.fileIo = system.dispatchers().lookup(DispatcherSelector.blocking());
        this.slots = new FetchSlots(settings.maxConcurrentFetches());
    }

    /**
     * The verified local path of {@code sha256}, fetched from {@code peers} (HTTP base
     * URLs) when it is not here intact. Blocks for the whole transfer: callers that must not
     * hold a thread that long (the replica pool) use {@link #fetch} instead.
     *
     * @throws IOException naming every peer that failed, if none served it
     */
    public Path ensure(String sha256, long sizeBytes, List<String> peers) throws IOException {
        try {
            return fetch(sha256, sizeBytes, peers).toCompletableFuture().get();
        } catch (ExecutionException e) {
            Throwable cause = unwrap(e);
            throw cause instanceof IOException io ? io : new IOException(cause.getMessage(), cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while fetching artifact " + sha256, e);
        }
    }

    /**
     * Completes with the verified local path of {@code sha256}: the stored file if it is
     * intact, else one fetched from {@code peers}. A fetch of the same artifact already in
     * progress on this node is joined rather than repeated. Fails with an
     * {@link IOException} when no peer served it.
     */
    public CompletionStage<Path> fetch(String sha256, long sizeBytes, List<String> peers) {
        if (!ArtifactStore.isHash(sha256)) {
            return CompletableFuture.failedFuture(new IOException("not a sha256: " + sha256));
        }
        CompletableFuture<Path> mine = new CompletableFuture<>();
        CompletableFuture<Path> shared = inFlight.putIfAbsent(sha256, mine);
        if (shared != null) {
            log.info("artifact {} is already being fetched on this node: waiting for that transfer", sha256);
            return shared;
        }
        CompletableFuture.supplyAsync(() -> verifiedLocal(sha256), fileIo)
                .thenCompose(local -> local != null ? CompletableFuture.completedFuture(local)
                        : slots.submit(() -> fromPeers(sha256, sizeBytes, order(sha256, peers))))
                .whenComplete((path, error) -> {
                    inFlight.remove(sha256, mine); // before completing: a later caller starts afresh
                    if (error != null) {
                        mine.completeExceptionally(unwrap(error));
                    } else {
                        mine.complete(path);
                    }
                });
        return mine;
    }

    /** Fetches of distinct artifacts waiting for a transfer slot. */
    public int waitingForSlot() {
        return slots.waiting();
    }

    private Path verifiedLocal(String sha256) {
        try {
            return store.verifiedPath(sha256).orElse(null);
        } catch (IOException e) {
            throw new CompletionException(e);
        }
    }

    /** Peers without duplicates, ranked by {@link #ranking}, shuffled within each rank. */
    List<String> order(String sha256, List<String> peers) {
        List<String> distinct = new ArrayList<>(new LinkedHashSet<>(peers));
        int[] ranks = ranking.rank(sha256, distinct);
        Map<Integer, List<String>> byRank = new TreeMap<>();
        for (int i = 0; i < distinct.size(); i++) {
            byRank.computeIfAbsent(ranks[i], r -> new ArrayList<>()).add(distinct.get(i));
        }
        List<String> ordered = new ArrayList<>(distinct.size());
        for (List<String> same : byRank.values()) {
            Collections.shuffle(same, ThreadLocalRandom.current());
            ordered.addAll(same);
        }
        return ordered;
    }

    private CompletionStage<Path> fromPeers(String sha256, long sizeBytes, List<String> peers) {
        if (peers.isEmpty()) {
            return CompletableFuture.failedFuture(new IOException("the artifact " + sha256
                    + " is not on this node and no peers are known to fetch it from"));
        }
        log.info("fetching artifact {} ({} bytes); peers in order: {}", sha256, sizeBytes, peers);
        return attempt(sha256, sizeBytes, peers, 0, new ArrayList<>());
    }

    private CompletionStage<Path> attempt(String sha256, long sizeBytes, List<String> peers, int index,
                                          List<String> failures) {
        if (index >= peers.size()) {
            return CompletableFuture.failedFuture(new IOException("the artifact " + sha256
                    + " is not on this node and no peer served it: " + String.join("; ", failures)));
        }
        String peer = peers.get(index);
        return transfer(sha256, sizeBytes, peer).handle((path, error) -> {
            if (error == null) {
                return CompletableFuture.completedFuture(path);
            }
            String why = describe(error);
            failures.add(peer + ": " + why);
            log.warn("fetching artifact {} from {} failed: {}{}", sha256, peer, why,
                    index + 1 < peers.size() ? "; trying the next peer" : "");
            return attempt(sha256, sizeBytes, peers, index + 1, failures);
        }).thenCompose(s -> s);
    }

    /** One transfer from one peer into a fresh incoming file, committed only if intact. */
    private CompletionStage<Path> transfer(String sha256, long sizeBytes, String peer) {
        Path tmp = store.newIncomingFile();
        Progress progress = new Progress(sha256, peer, sizeBytes);
        // one connection per transfer (Connection: close): a transfer abandoned part way (too
        // large, stalled, cut) leaves its connection to be torn down, and a pooled one handed to
        // the next transfer from that peer was seen to fail it ("stalled", "NoMoreElementsNeeded")
        CompletionStage<Path> result = http.singleRequest(HttpRequest.GET(peer + "/v1/artifacts/" + sha256)
                                .addHeader(Connection.create("close")), https, pool, httpLog)
                .thenCompose(response -> receive(response, sizeBytes, tmp, progress))
                .thenApplyAsync(digest -> {
                    if (digest.bytes() != sizeBytes) {
                        throw new CompletionException(new IOException("the transfer ended after " + digest.bytes()
                                + " of " + sizeBytes + " bytes"));
                    }
                    if (!digest.sha256().equals(sha256)) {
                        throw new CompletionException(new IOException("the content hashes to " + digest.sha256()));
                    }
                    try {
                        return store.commitAs(tmp, sha256);
                    } catch (IOException e) {
                        throw new CompletionException(e);
                    }
                }, fileIo);
        return result.whenCompleteAsync((path, error) -> {
            if (error != null) {
                deleteQuietly(tmp);
            } else {
                progress.done();
            }
        }, fileIo);
    }

    private CompletionStage<DigestStage.Digest> receive(HttpResponse response, long sizeBytes, Path tmp,
                                                         Progress progress) {
        if (response.status().intValue() != 200) {
            response.discardEntityBytes(materializer);
            return CompletableFuture.failedFuture(new IOException("HTTP " + response.status().intValue()));
        }
        OptionalLong length = response.entity().getContentLengthOption();
        if (length.isPresent() && length.getAsLong() != sizeBytes) {
            response.entity().getDataBytes().runWith(Sink.cancelled(), materializer); // do not read it
            return CompletableFuture.failedFuture(new IOException("the peer offers " + length.getAsLong()
                    + " bytes, the manifest says " + sizeBytes));
        }
        Pair<CompletionStage<DigestStage.Digest>, CompletionStage<IOResult>> done = response.entity()
                .withoutSizeLimit().getDataBytes()
                .idleTimeout(settings.idleTimeout())
                .completionTimeout(settings.fetchTimeout())
                .viaMat(new DigestStage(sizeBytes), Keep.right())
                .map(chunk -> progress.add(chunk))
                .toMat(FileIO.toPath(tmp), Keep.both())
                .run(materializer);
        return done.second().thenCompose(io -> done.first());
    }

    /** Logs a transfer's progress (bytes, peer, rate) at most every progress-log-interval. */
    private final class Progress {
        private final String sha256;
        private final String peer;
        private final long size;
        private final long startNanos = System.nanoTime();
        private long bytes;
        private long lastLogNanos = startNanos;

        Progress(String sha256, String peer, long size) {
            this.sha256 = sha256;
            this.peer = peer;
            this.size = size;
        }

        /** Called from the stream, one chunk at a time. */
        ByteString add(ByteString chunk) {
            bytes += chunk.size();
            long now = System.nanoTime();
            if (now - lastLogNanos >= settings.progressLogInterval().toNanos()) {
                lastLogNanos = now;
                log.info("fetching artifact {} from {}: {} of {} bytes ({}%), {}", sha256, peer, bytes, size,
                        size == 0 ? 100 : bytes * 100 / size, rate(now));
            }
            return chunk;
        }

        void done() {
            long now = System.nanoTime();
            log.info("fetched artifact {} ({} bytes) from {} in {} ms, {}; hash verified", sha256, size, peer,
                    TimeUnit.NANOSECONDS.toMillis(now - startNanos), rate(now));
        }

        private String rate(long now) {
            double seconds = Math.max(1e-3, (now - startNanos) / 1e9);
            return String.format(Locale.ROOT, "%.2f MiB/s", bytes / seconds / (1024 * 1024));
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            log.warn("cannot delete the partial artifact {}: {}", p, e.getMessage());
        }
    }

    private static Throwable unwrap(Throwable t) {
        Throwable c = t;
        while ((c instanceof CompletionException || c instanceof ExecutionException
                || c instanceof org.apache.pekko.stream.IOOperationIncompleteException) && c.getCause() != null) {
            c = c.getCause();
        }
        return c;
    }

    /** A failure as one line: the root cause's message, or its type when it has none. */
    private static String describe(Throwable t) {
        Throwable c = unwrap(t);
        if (c instanceof java.util.concurrent.TimeoutException) {
            return "stalled or too slow (" + c.getMessage() + ")";
        }
        String message = c.getMessage();
        return message == null || message.isBlank() ? c.getClass().getSimpleName() : message;
    }

    private static FiniteDuration finite(Duration d) {
        return FiniteDuration.create(d.toMillis(), TimeUnit.MILLISECONDS);
    }
}
