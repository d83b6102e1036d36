package io.meshinfer.registry;

import static io.meshinfer.registry.PeerServer.Behaviour.GATED;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

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
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.stream.Materializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A replica whose model file must first be fetched from a peer does not hold a runtime
 * thread while the bytes travel: on a node with two run threads, one held for a
 * minutes-long transfer would halve what the node serves.
 */
class ReplicaPoolFetchTest {
    private static final ActorTestKit TESTKIT = ActorTestKit.create("replica-pool-fetch");
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

    @Test
    void aFetchInProgressLeavesTheRuntimeThreadFree() throws Exception {
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
