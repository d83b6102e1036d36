package io.meshinfer.registry;

import static io.meshinfer.registry.PeerServer.Behaviour.GATED;
import static io.meshinfer.registry.PeerServer.Behaviour.GOOD;
import static io.meshinfer.registry.PeerServer.Behaviour.MISSING;
import static io.meshinfer.registry.PeerServer.Behaviour.OVERSIZED_CHUNKED;
import static io.meshinfer.registry.PeerServer.Behaviour.OVERSIZED_LENGTH;
import static io.meshinfer.registry.PeerServer.Behaviour.STALL;
import static io.meshinfer.registry.PeerServer.Behaviour.TRUNCATED;
import static io.meshinfer.registry.PeerServer.Behaviour.WRONG_BYTES;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.batching.BatchPolicy;
import io.meshinfer.observability.DriftRegistry;
import io.meshinfer.observability.DriftSettings;
import io.meshinfer.runtime.ModelRuntime;
import io.meshinfer.runtime.RuntimeSettings;
import io.meshinfer.security.AuditLog;
import io.meshinfer.shard.PooledReplica;
import io.meshinfer.shard.ReplicaPool;
import io.meshinfer.shard.ServedCounters;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testmodels.TestModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.stream.Materializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The peer-to-peer fetcher against a real pekko-http server on 127.0.0.1 that plays peers
 * serving intact, altered, cut-off, oversized, stalled and missing artifacts. Each test has
 * its own store (and artifact bytes), and checks that nothing is left in the incoming
 * directory: a failed transfer never leaves a file behind, and never one with a valid name.
 */
class ArtifactFetcherTest {
    private static final ActorTestKit TESTKIT = ActorTestKit.create("artifact-fetcher");
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static PeerServer peers;

    @TempDir
    Path dataDir;

    @BeforeAll
    static void start() throws Exception {
        peers = new PeerServer(TESTKIT.system());
    }

    @AfterAll
    static void stop() throws Exception {
        peers.close();
        TESTKIT.shutdownTestKit();
    }

    private static ArtifactSettings settings(int concurrentFetches) {
        // idle timeout 2 s: a stall is found soon, and a loaded machine's slow answer is not one
        return new ArtifactSettings(Duration.ofSeconds(20), Duration.ofSeconds(2), Duration.ofSeconds(2),
                concurrentFetches, Duration.ofMillis(50), Optional.empty());
    }

    /** Ranks peers in the order given (first is tried first). */
    private static PeerRanking inOrder() {
        return (sha, list) -> java.util.stream.IntStream.range(0, list.size()).toArray();
    }

    private static byte[] artifact(long seed) {
        byte[] b = new byte[300_000 + (int) (seed % 1000)];
        new Random(seed).nextBytes(b);
        return b;
    }

    private ArtifactFetcher fetcher(ArtifactStore store, int concurrentFetches) {
        return new ArtifactFetcher(store, TESTKIT.system(), settings(concurrentFetches), inOrder());
    }

    private static void assertNothingIncoming(ArtifactStore store) throws IOException {
        try (Stream<Path> files = Files.list(store.directory().resolve("incoming"))) {
            assertEquals(List.of(), files.toList(), "partial files left behind");
        }
    }

    @Test
    void fetchesAnArtifactFromAPeerAndStoresItVerified() throws Exception {
        ArtifactStore store = new ArtifactStore(dataDir);
        byte[] bytes = artifact(1);
        String sha = peers.serve(bytes);
        int before = peers.hits(GOOD);

        Path path = fetcher(store, 2).ensure(sha, bytes.length, List.of(peers.peer(GOOD)));

        assertArrayEquals(bytes, Files.readAllBytes(path));
        assertEquals(ArtifactStore.Check.INTACT, store.check(sha));
        assertEquals(before + 1, peers.hits(GOOD));
        assertNothingIncoming(store);
        // once here, it is loaded from the store without asking anyone
        assertEquals(path, fetcher(store, 2).ensure(sha, bytes.length, List.of(peers.peer(GOOD))));
        assertEquals(before + 1, peers.hits(GOOD));
    }

    @Test
    void anArtifactLargerThanTheHttpClientsDefaultEntityLimitStreams() throws Exception {
        ArtifactStore store = new ArtifactStore(dataDir);
        byte[] bytes = new byte[9 * 1024 * 1024 + 17]; // pekko-http's client refuses entities over 8 MiB by default
        new Random(10).nextBytes(bytes);
        String sha = peers.serve(bytes);

        Path path = fetcher(store, 2).ensure(sha, bytes.length, List.of(peers.peer(GOOD)));

        assertEquals(bytes.length, Files.size(path));
        assertEquals(sha, ArtifactStore.sha256(path));
        assertNothingIncoming(store);
    }

    @Test
    void aPeerServingWrongBytesIsPassedOverForTheNextPeer() throws Exception {
        ArtifactStore store = new ArtifactStore(dataDir);
        byte[] bytes = artifact(2);
        String sha = peers.serve(bytes);
        int wrongBefore = peers.hits(WRONG_BYTES);
        int goodBefore = peers.hits(GOOD);

        Path path = fetcher(store, 2).ensure(sha, bytes.length, List.of(peers.peer(WRONG_BYTES), peers.peer(GOOD)));

        assertArrayEquals(bytes, Files.readAllBytes(path));
        assertEquals(wrongBefore + 1, peers.hits(WRONG_BYTES));
        assertEquals(goodBefore + 1, peers.hits(GOOD));
        assertEquals(List.of(sha), store.list(), "only the intact file is stored");
        assertNothingIncoming(store);
    }

    @Test
    void truncatedOversizedStalledAndMissingTransfersAreRefusedEachWithItsReason() throws Exception {
        ArtifactStore store = new ArtifactStore(dataDir);
        byte[] bytes = artifact(3);
        String sha = peers.serve(bytes);
        // all peers are one host, so they share one client connection pool: the 404 is asked for
        // first, before the broken transfers leave connections to be closed, and the stall last
        List<String> bad = List.of(peers.peer(MISSING), peers.peer(TRUNCATED), peers.peer(OVERSIZED_CHUNKED),
                peers.peer(OVERSIZED_LENGTH), peers.peer(STALL));
        ArtifactFetcher fetcher = fetcher(store, 2);

        IOException e = assertThrows(IOException.class, () -> fetcher.ensure(sha, bytes.length, bad));

        String m = e.getMessage();
        assertTrue(m.contains("no peer served it"), m);
        assertTrue(m.contains(peers.peer(OVERSIZED_CHUNKED) + ": the peer sent more than the artifact's "
                + bytes.length + " bytes"), m);
        assertTrue(m.contains(peers.peer(OVERSIZED_LENGTH) + ": the peer offers " + (bytes.length + 100)
                + " bytes, the manifest says " + bytes.length), m);
        assertTrue(m.contains(peers.peer(STALL) + ": stalled or too slow"), m);
        assertTrue(m.contains(peers.peer(MISSING) + ": HTTP 404"), m);
        assertTrue(m.contains(peers.peer(TRUNCATED) + ": "), m);
        assertEquals(List.of(), store.list(), "nothing stored");
        assertNothingIncoming(store);

        // the same peers with a good one last: the fetch succeeds after passing over the others
        List<String> withGood = new java.util.ArrayList<>(List.of(peers.peer(STALL), peers.peer(MISSING),
                peers.peer(TRUNCATED), peers.peer(OVERSIZED_CHUNKED), peers.peer(OVERSIZED_LENGTH)));
        withGood.add(peers.peer(GOOD));
        assertArrayEquals(bytes, Files.readAllBytes(fetcher.ensure(sha, bytes.length, withGood)));
        assertNothingIncoming(store);
    }

    @Test
    void concurrentLoadsOfOneArtifactShareOneTransfer() throws Exception {
        ArtifactStore store = new ArtifactStore(dataDir);
        byte[] bytes = artifact(4);
        String sha = peers.serve(bytes);
        ArtifactFetcher fetcher = fetcher(store, 2);
        int before = peers.hits(GATED);

        CompletableFuture<Path> first = fetcher.fetch(sha, bytes.length, List.of(peers.peer(GATED)))
                .toCompletableFuture();
        await().atMost(WAIT).until(() -> peers.hits(GATED) == before + 1);
        CompletableFuture<Path> second = fetcher.fetch(sha, bytes.length, List.of(peers.peer(GATED)))
                .toCompletableFuture();
        assertFalse(first.isDone() || second.isDone(), "the transfer is held at the gate");
        peers.gate(sha).complete(Done.getInstance());

        Path a = first.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        Path b = second.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(a, b);
        assertArrayEquals(bytes, Files.readAllBytes(a));
        assertEquals(before + 1, peers.hits(GATED), "one transfer for both loads");
    }

    @Test
    void transfersBeyondTheLimitWaitForASlot() throws Exception {
        ArtifactStore store = new ArtifactStore(dataDir);
        byte[] one = artifact(5);
        byte[] two = artifact(6);
        String shaOne = peers.serve(one);
        String shaTwo = peers.serve(two);
        ArtifactFetcher fetcher = fetcher(store, 1);
        int before = peers.hits(GATED);

        CompletableFuture<Path> first = fetcher.fetch(shaOne, one.length, List.of(peers.peer(GATED)))
                .toCompletableFuture();
        await().atMost(WAIT).until(() -> peers.hits(GATED) == before + 1);
        CompletableFuture<Path> second = fetcher.fetch(shaTwo, two.length, List.of(peers.peer(GATED)))
                .toCompletableFuture();
        await().atMost(WAIT).until(() -> fetcher.waitingForSlot() == 1);
        assertEquals(before + 1, peers.hits(GATED), "the second transfer has not started");

        peers.gate(shaTwo).complete(Done.getInstance());
        peers.gate(shaOne).complete(Done.getInstance());
        assertArrayEquals(one, Files.readAllBytes(first.get(WAIT.toSeconds(), TimeUnit.SECONDS)));
        assertArrayEquals(two, Files.readAllBytes(second.get(WAIT.toSeconds(), TimeUnit.SECONDS)));
        assertEquals(before + 2, peers.hits(GATED));
        assertEquals(0, fetcher.waitingForSlot());
    }

    @Test
    void aCorruptLocalFileIsDeletedAndFetchedAgain() throws Exception {
        ArtifactStore store = new ArtifactStore(dataDir);
        byte[] bytes = artifact(7);
        String sha = store.put(bytes);
        peers.serve(bytes);
        Path file = store.directory().resolve(sha + ".onnx");
        byte[] corrupt = bytes.clone();
        corrupt[1000] ^= 0x01;
        Files.write(file, corrupt);
        int before = peers.hits(GOOD);

        Path path = fetcher(store, 2).ensure(sha, bytes.length, List.of(peers.peer(GOOD)));

        assertEquals(file, path);
        assertArrayEquals(bytes, Files.readAllBytes(path));
        assertEquals(before + 1, peers.hits(GOOD));
    }

    @Test
    void peersKnownToHoldTheArtifactAreAskedFirst() throws Exception {
        ArtifactStore store = new ArtifactStore(dataDir);
        byte[] bytes = artifact(8);
        String sha = peers.serve(bytes);
        PeerRanking holdersFirst = (s, list) -> list.stream().mapToInt(p -> p.equals(peers.peer(GOOD)) ? 0 : 1)
                .toArray();
        ArtifactFetcher fetcher = new ArtifactFetcher(store, TESTKIT.system(), settings(2), holdersFirst);
        List<String> given = List.of(peers.peer(MISSING), peers.peer(WRONG_BYTES), peers.peer(GOOD));

        assertEquals(peers.peer(GOOD), fetcher.order(sha, given).get(0));
        int missing = peers.hits(MISSING);
        int wrong = peers.hits(WRONG_BYTES);
        fetcher.ensure(sha, bytes.length, given);
        assertEquals(missing, peers.hits(MISSING), "the holder served it first");
        assertEquals(wrong, peers.hits(WRONG_BYTES), "the holder served it first");
    }

    @Test
    void noPeersMeansAClearError() throws Exception {
        ArtifactStore store = new ArtifactStore(dataDir);
        String sha = ArtifactStore.sha256(artifact(9));
        IOException e = assertThrows(IOException.class, () -> fetcher(store, 1).ensure(sha, 10, List.of()));
        assertTrue(e.getMessage().contains("no peers are known"), e.getMessage());
    }

    /**
     * A replica whose model file must first be fetched from a peer does not hold a runtime
     * thread while the bytes travel: on a node with two run threads, one held for a
     * minutes-long transfer would halve what the node serves.
     */
    @Test
    void aReplicaLoadLeavesTheRuntimeThreadFreeWhileItsFileIsFetched() throws Exception {
        Config config = ConfigFactory.load();
        byte[] onnx = TestModels.mlp();
        String sha = peers.serve(onnx);
        ArtifactStore store = new ArtifactStore(dataDir);
        ArtifactFetcher fetcher = new ArtifactFetcher(store, TESTKIT.system(), ArtifactSettings.fromConfig(config),
                (s, list) -> new int[list.size()]);
        // the node's runtime dispatcher, reduced to the one thread a transfer must not take
        ExecutorService runtimeThread = Executors.newSingleThreadExecutor(r -> new Thread(r, "runtime-under-test"));
        ModelRuntime runtime = new ModelRuntime(RuntimeSettings.fromConfig(config));
        ReplicaPool pool = new ReplicaPool(runtime, fetcher, Materializer.matFromSystem(TESTKIT.system()),
                runtimeThread, BatchPolicy.fromConfig(config),
                new PooledReplica.Place("pool-node", "r", "z", 1 << 20, new ServedCounters(),
                        new DriftRegistry(DriftSettings.fromConfig(config)), AuditLog.off()),
                new Attestor(AttestationSettings.fromConfig(config), runtime, "pool-node", "r", () -> ""), null);
        try {
            ModelManifest manifest = new ModelManifest("fetched", "1", sha, onnx.length, null, 1, null, null, null,
                    "elsewhere", 0, "test", null, 0, null);
            CompletableFuture<PooledReplica> attached = pool.attach("fetched@1#0", manifest,
                    () -> List.of(peers.peer(GATED))).toCompletableFuture();

            // the peer holds its answer: while it does, the runtime thread still runs other work
            CompletableFuture<String> other = CompletableFuture.supplyAsync(() -> Thread.currentThread().getName(),
                    runtimeThread);
            assertEquals("runtime-under-test", other.get(10, TimeUnit.SECONDS),
                    "the runtime thread is free while the artifact is in transfer");
            assertFalse(attached.isDone(), "the replica waits for its file");

            peers.gate(sha).complete(Done.getInstance());
            PooledReplica replica = attached.get(30, TimeUnit.SECONDS);
            float[] x = {1, 2, 3, 4};
            InferenceResponse r = replica.serve(InferenceRequest.builder("fetched").timeout(Duration.ofSeconds(10))
                    .input("x", Tensor.ofFloats(new long[] {1, 4}, x)).build(), false).get(30, TimeUnit.SECONDS);
            assertArrayEquals(TestModels.mlpReference(x, 1), r.output("y").floats(), 1e-6f);
        } finally {
            pool.close();
            runtime.close();
            runtimeThread.shutdownNow();
        }
    }
}
