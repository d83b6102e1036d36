package io.meshinfer.jmh;

import com.typesafe.config.Config;
import io.meshinfer.api.InferenceError;
import io.meshinfer.batching.BatchPolicy;
import io.meshinfer.batching.Batcher;
import io.meshinfer.batching.BatcherStats;
import io.meshinfer.batching.ResultSink;
import io.meshinfer.models.OnnxModelBuilder;
import io.meshinfer.runtime.LoadedModel;
import io.meshinfer.runtime.ModelRuntime;
import io.meshinfer.runtime.ModelSignature.Prepared;
import io.meshinfer.runtime.RunScratch;
import io.meshinfer.runtime.RuntimeSettings;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.NamedTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.stream.Materializer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * What the batcher costs on top of ONNX Runtime, measured on a model that does almost no
 * work (x FP32 [batch, 4] → Identity → y), so that the stream, the thread hops and the
 * batch assembly dominate. Every score is per request.
 *
 * <ul>
 *   <li>{@code burst*} (requests/s): {@value #BURST} requests of one row each, all in flight
 *       at once (the concurrency of PERFORMANCE-NOTES), each answered through a
 *       {@link ResultSink}; an operation ends when the last is answered.
 *       {@code burstBatcher} submits them to a {@link Batcher} with the node's default
 *       policy and runtime dispatcher (two concurrent runs; its stream on that dispatcher,
 *       as on a node); {@code burstDirectRun} calls
 *       {@link LoadedModel#run} once per request on the benchmark thread (no batching);
 *       {@code burstDirectRunBatch} calls {@link LoadedModel#runBatch} on the benchmark
 *       thread in batches of the policy's {@code max-batch}, the batcher's work without
 *       its stream and threads.</li>
 *   <li>{@code single*} (µs per request): one request at a time, through the idle batcher
 *       or straight to {@link LoadedModel#run}; the difference is the batcher's latency.</li>
 * </ul>
 * At the end of each trial the fork prints the batcher's mean batch size.
 */
@State(Scope.Benchmark)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 3, time = 2)
public class BatcherBenchmark {
    /** Requests in flight in one burst. */
    static final int BURST = 64;
    private static final int FEATURES = 4;
    private static final long DEADLINE_NANOS = TimeUnit.SECONDS.toNanos(60);
    private static final long AWAIT_SECONDS = 60;

    private ActorSystem<Void> system;
    private ModelRuntime runtime;
    private LoadedModel model;
    private Batcher batcher;
    private Path modelDir;
    private List<Prepared> requests;
    private List<List<List<NamedTensor>>> batches;
    private List<int[]> batchRows;
    private final RunScratch scratch = new RunScratch();

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        Config config = Fixtures.localSystemConfig();
        system = ActorSystem.create(Behaviors.empty(), "jmh-batcher", config);
        Executor runExecutor = system.dispatchers()
                .lookup(DispatcherSelector.fromConfig("meshinfer.runtime-dispatcher"));

        byte[] bytes = identityModel();
        modelDir = Files.createTempDirectory("meshinfer-jmh");
        Path file = Files.write(modelDir.resolve("identity.onnx"), bytes);
        runtime = new ModelRuntime(RuntimeSettings.fromConfig(config));
        model = runtime.acquire(sha256(bytes), file);

        BatchPolicy policy = BatchPolicy.fromConfig(config);
        if (policy.queueCapacity() < BURST) {
            throw new IllegalStateException("meshinfer.batching.queue-capacity " + policy.queueCapacity()
                    + " cannot hold a burst of " + BURST);
        }
        String streamDispatcher = config.getString("meshinfer.batching.stream-dispatcher");
        batcher = Batcher.start("jmh-identity", model, policy, runExecutor, Materializer.createMaterializer(system),
                streamDispatcher.isEmpty() ? null : streamDispatcher);

        Random random = new Random(42);
        requests = new ArrayList<>(BURST);
        for (int i = 0; i < BURST; i++) {
            requests.add(model.signature().prepare(
                    List.of(new NamedTensor("x", Fixtures.floats(random, 1, FEATURES))), List.of(), Long.MAX_VALUE));
        }
        batches = new ArrayList<>();
        batchRows = new ArrayList<>();
        for (int from = 0; from < BURST; from += policy.maxBatch()) {
            List<List<NamedTensor>> batch = new ArrayList<>();
            for (Prepared p : requests.subList(from, Math.min(BURST, from + policy.maxBatch()))) {
                batch.add(p.inputs());
            }
            int[] rows = new int[batch.size()];
            Arrays.fill(rows, 1);
            batches.add(batch);
            batchRows.add(rows);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        try {
            batcher.drain().toCompletableFuture().get(AWAIT_SECONDS, TimeUnit.SECONDS);
            BatcherStats.Snapshot s = batcher.stats();
            if (s.runs() > 0) {
                System.out.printf("%nbatcher: %d runs, mean batch %.1f rows, %d failed%n",
                        s.runs(), s.meanBatchRows(), s.failed());
            }
        } finally {
            runtime.release(model);
            runtime.close();
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(AWAIT_SECONDS, TimeUnit.SECONDS);
            try (var files = Files.list(modelDir)) {
                for (Path p : (Iterable<Path>) files::iterator) {
                    Files.delete(p);
                }
            }
            Files.delete(modelDir);
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    @OperationsPerInvocation(BURST)
    public void burstBatcher() throws InterruptedException {
        Answers answers = new Answers(BURST);
        long deadline = System.nanoTime() + DEADLINE_NANOS;
        for (Prepared p : requests) {
            batcher.submit(p, deadline, answers);
        }
        answers.await();
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    @OperationsPerInvocation(BURST)
    public void burstDirectRun(Blackhole bh) {
        for (Prepared p : requests) {
            bh.consume(model.run(p.inputs(), Set.of()));
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    @OperationsPerInvocation(BURST)
    public void burstDirectRunBatch(Blackhole bh) {
        for (int i = 0; i < batches.size(); i++) {
            bh.consume(model.runBatch(batches.get(i), batchRows.get(i), Set.of(), scratch));
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public void singleBatcher() throws InterruptedException {
        Answers answers = new Answers(1);
        batcher.submit(requests.get(0), System.nanoTime() + DEADLINE_NANOS, answers);
        answers.await();
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public List<NamedTensor> singleDirectRun() {
        return model.run(requests.get(0).inputs(), Set.of());
    }

    /** x FP32 [batch, 4] → Identity → y: a model whose run is almost all fixed overhead. */
    static byte[] identityModel() {
        return OnnxModelBuilder.create("identity")
                .input("x", DType.FP32, OnnxModelBuilder.dims("batch", FEATURES))
                .node("Identity", List.of("x"), "y")
                .output("y", DType.FP32, OnnxModelBuilder.dims("batch", FEATURES))
                .toBytes();
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    /**
     * The answers to one operation's requests, counted down on whichever run thread
     * delivers them; any failure fails the benchmark, since its score would then mean nothing.
     */
    private static final class Answers implements ResultSink {
        private final CountDownLatch left;
        private volatile InferenceError failure;

        Answers(int requests) {
            left = new CountDownLatch(requests);
        }

        @Override
        public void success(List<NamedTensor> outputs, int batchRows, long queueNanos) {
            left.countDown();
        }

        @Override
        public void failure(InferenceError error) {
            failure = error;
            left.countDown();
        }

        void await() throws InterruptedException {
            if (!left.await(AWAIT_SECONDS, TimeUnit.SECONDS)) {
                throw new IllegalStateException("requests unanswered after " + AWAIT_SECONDS + " s");
            }
            if (failure != null) {
                throw new IllegalStateException("a request failed: " + failure);
            }
        }
    }
}
