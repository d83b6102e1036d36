package io.meshinfer.batching;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.api.ErrorKind;
import io.meshinfer.api.InferenceError;
import io.meshinfer.runtime.LoadedModel;
import io.meshinfer.runtime.ModelRuntime;
import io.meshinfer.runtime.ModelSignature.Prepared;
import io.meshinfer.runtime.TestModelFiles;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testmodels.TestModels;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import java.util.stream.IntStream;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.stream.Materializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The batcher with real Pekko Streams and real ONNX Runtime sessions of the test models.
 *
 * <p>Tests that depend on which requests share a run close a {@link GatedExecutor} first:
 * the first request's run is handed over and waits at the gate, so every later request is
 * known to be queued behind it when the gate opens. Nothing here waits on a clock except
 * where a batching delay is the behaviour under test. Every test counts its answers: each
 * request gets exactly one, and the batcher is drained (or aborted) before the count.
 */
class BatcherTest {
    private static final long WAIT_SECONDS = 30;

    @TempDir
    static Path dir;

    private static ActorSystem<Void> system;
    private static Materializer mat;
    private static ExecutorService runPool;
    private static ExecutorService callers;
    private static ModelRuntime runtime;
    private static final Map<String, Path> files = new HashMap<>();
    private static final AtomicInteger modelIds = new AtomicInteger();

    private final List<LoadedModel> held = new ArrayList<>();
    private final List<Batcher> started = new ArrayList<>();
    private final List<GatedExecutor> gates = new ArrayList<>();

    @BeforeAll
    static void startSystem() {
        system = ActorSystem.create(Behaviors.empty(), "batcher-test");
        mat = Materializer.createMaterializer(system);
        runPool = Executors.newFixedThreadPool(2);
        callers = Executors.newFixedThreadPool(4);
        runtime = new ModelRuntime(TestModelFiles.settings());
        files.put("mlp", TestModelFiles.write(dir, "mlp.onnx", TestModels.mlp()));
        files.put("embedding", TestModelFiles.write(dir, "embedding.onnx", TestModels.int64Embedding()));
        files.put("twoInTwoOut", TestModelFiles.write(dir, "two.onnx", TestModels.twoInTwoOut()));
        files.put("noBatchAxis", TestModelFiles.write(dir, "nobatch.onnx", TestModels.noBatchAxis()));
        files.put("scalarInput", TestModelFiles.write(dir, "scalar.onnx", TestModels.scalarInput()));
        files.put("dynamicConv", TestModelFiles.write(dir, "conv.onnx", TestModels.dynamicConv()));
        files.put("allTypes", TestModelFiles.write(dir, "types.onnx", TestModels.allTypes()));
        files.put("batchOnSecondAxis", TestModelFiles.write(dir, "second.onnx", TestModels.batchOnSecondAxis()));
    }

    @AfterAll
    static void stopSystem() throws Exception {
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().get(WAIT_SECONDS, TimeUnit.SECONDS);
        runPool.shutdownNow();
        callers.shutdownNow();
        runtime.close();
    }

    @AfterEach
    void stopBatchers() throws Exception {
        gates.forEach(GatedExecutor::open);
        for (Batcher b : started) {
            b.abort();
            b.whenTerminated().toCompletableFuture().handle((d, e) -> d).get(WAIT_SECONDS, TimeUnit.SECONDS);
        }
        held.forEach(runtime::release);
    }

    // ---- fixtures --------------------------------------------------------------------------------

    /** A session of its own for this test (a fresh hash key), so its run count is this test's alone. */
    private LoadedModel model(String kind) throws Exception {
        LoadedModel m = runtime.acquire(kind + "#" + modelIds.incrementAndGet(), files.get(kind));
        held.add(m);
        return m;
    }

    private static BatchPolicy policy(int maxBatch, Duration maxDelay, int queueCapacity, int concurrentRuns) {
        return new BatchPolicy(maxBatch, maxDelay, queueCapacity, concurrentRuns);
    }

    private Batcher start(String name, LoadedModel m, BatchPolicy p, Executor ex) {
        Batcher b = Batcher.start(name, m, p, ex, mat);
        started.add(b);
        return b;
    }

    private GatedExecutor gate() {
        GatedExecutor g = new GatedExecutor(runPool);
        gates.add(g);
        return g;
    }

    private static long far() {
        return System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    }

    private static Prepared prepare(LoadedModel m, List<String> outputs, NamedTensor... inputs) {
        return m.signature().prepare(List.of(inputs), outputs, Long.MAX_VALUE);
    }

    private static Prepared prepare(LoadedModel m, NamedTensor... inputs) {
        return prepare(m, List.of(), inputs);
    }

    private static float[] randomFloats(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = rnd.nextFloat() * 4 - 2;
        }
        return x;
    }

    private static Prepared mlpRequest(LoadedModel m, float[] x) {
        return prepare(m, new NamedTensor("x", Tensor.ofFloats(new long[] {x.length / 4, 4}, x)));
    }

    /** The same request run alone on the session, outside the batcher. */
    private static List<NamedTensor> alone(LoadedModel m, Prepared p) {
        return m.run(p.inputs(), p.outputSet());
    }

    /**
     * Drains {@code b}, then checks that every request got exactly one answer and that the
     * batcher's counters add up.
     */
    private static void finish(Batcher b, Answers answers) throws Exception {
        b.drain().toCompletableFuture().get(WAIT_SECONDS, TimeUnit.SECONDS);
        answers.awaitAll();
        answers.assertEachAnsweredExactlyOnce();
        assertEquals(0, b.outstanding());
        BatcherStats.Snapshot s = b.stats();
        assertEquals(answers.sinks().size(), s.submitted());
        assertEquals(s.submitted(), s.succeeded() + s.failed());
        assertEquals(answers.successes(), s.succeeded());
    }

    /** Submits {@code n} requests from the caller threads at once and waits until every submit returned. */
    private static List<Answers.Sink> submitConcurrently(Answers answers, Batcher b, int n,
                                                         IntFunction<Prepared> request) throws Exception {
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Answers.Sink>> submits = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int index = i;
            Prepared p = request.apply(i);
            submits.add(callers.submit(() -> {
                go.await(WAIT_SECONDS, TimeUnit.SECONDS);
                return answers.submit(b, p, far(), "#" + index);
            }));
        }
        go.countDown();
        List<Answers.Sink> sinks = new ArrayList<>();
        for (Future<Answers.Sink> f : submits) {
            sinks.add(f.get(WAIT_SECONDS, TimeUnit.SECONDS));
        }
        return sinks;
    }

    // ---- batching --------------------------------------------------------------------------------

    @Test
    void requestsArrivingWhileTheRunIsBusyShareRuns() throws Exception {
        LoadedModel m = model("mlp");
        GatedExecutor gate = gate();
        Batcher b = start("mlp-batches", m, policy(16, Duration.ZERO, 128, 1), gate);
        Answers answers = new Answers();
        Random rnd = new Random(1);
        List<float[]> inputs = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            inputs.add(randomFloats(rnd, 4));
        }

        answers.submit(b, mlpRequest(m, inputs.get(0)), far(), "#0");
        gate.awaitDispatched(1);
        List<Answers.Sink> rest = submitConcurrently(answers, b, 63, i -> mlpRequest(m, inputs.get(i + 1)));
        gate.open();
        finish(b, answers);

        assertEquals(63, rest.size());
        BatcherStats.Snapshot s = b.stats();
        assertEquals(64, s.succeeded());
        assertTrue(s.runs() < 64, "runs: " + s.runs());
        assertTrue(s.meanBatchRequests() > 1, "mean batch: " + s.meanBatchRequests());
        // the first request ran alone; the other 63 need at least four runs of at most 16
        assertTrue(s.runs() >= 5, "runs: " + s.runs());
        assertEquals(s.runs(), m.runCount());
        assertEquals(1, answers.sinks().get(0).now().batchRows());
        for (Answers.Sink sink : answers.sinks()) {
            assertTrue(sink.now().batchRows() <= 16, "a run holds at most maxBatch rows");
        }
    }

    @Test
    void batchedResultsEqualUnbatchedResults() throws Exception {
        LoadedModel m = model("mlp");
        GatedExecutor gate = gate();
        Batcher b = start("mlp-equal", m, policy(16, Duration.ZERO, 64, 1), gate);
        Answers answers = new Answers();
        Random rnd = new Random(2);
        List<float[]> inputs = new ArrayList<>();
        for (int i = 0; i < 31; i++) {
            inputs.add(randomFloats(rnd, 4 * (1 + i % 4)));
        }

        answers.submit(b, mlpRequest(m, inputs.get(0)), far(), "#0");
        gate.awaitDispatched(1);
        for (int i = 1; i < inputs.size(); i++) {
            answers.submit(b, mlpRequest(m, inputs.get(i)), far(), "#" + i);
        }
        gate.open();
        finish(b, answers);

        assertTrue(b.stats().runs() < inputs.size(), "the requests were batched: " + b.stats());
        for (int i = 0; i < inputs.size(); i++) {
            float[] x = inputs.get(i);
            Tensor batched = answers.sinks().get(i).now().output("y");
            Tensor single = alone(m, mlpRequest(m, x)).get(0).tensor();
            assertArrayEquals(new long[] {x.length / 4, 3}, batched.shape());
            assertTrue(batched.maxAbsDifference(single) <= 1e-6, "request " + i + " differs from its run alone");
            assertArrayEquals(TestModels.mlpReference(x, x.length / 4), batched.floats(), 1e-5f, "request " + i);
        }
    }

    @Test
    void manyConcurrentCallersEachGetTheirOwnResult() throws Exception {
        LoadedModel m = model("mlp");
        Batcher b = start("mlp-callers", m, policy(16, Duration.ZERO, 512, 2), runPool);
        assertEachCallerGetsItsOwnResult(b, m, 400, new Random(3));
    }

    /** Submits {@code n} MLP requests of 1-3 rows at once; each answer must be its own input's result. */
    private static void assertEachCallerGetsItsOwnResult(Batcher b, LoadedModel m, int n, Random rnd)
            throws Exception {
        Answers answers = new Answers();
        List<float[]> inputs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            inputs.add(randomFloats(rnd, 4 * (1 + i % 3)));
        }

        List<Answers.Sink> sinks = submitConcurrently(answers, b, inputs.size(), i -> mlpRequest(m, inputs.get(i)));
        finish(b, answers);

        for (int i = 0; i < inputs.size(); i++) {
            float[] x = inputs.get(i);
            assertArrayEquals(TestModels.mlpReference(x, x.length / 4), sinks.get(i).now().output("y").floats(),
                    1e-5f, "request " + i);
        }
    }

    /**
     * The node's layout: the batcher's stream on the runtime dispatcher, whose threads also
     * execute the runs. With a single such thread the stream and the runs take turns on it:
     * nothing deadlocks, and each caller gets its own result.
     */
    @Test
    void aStreamSharingTheRunThreadServesEveryCaller() throws Exception {
        ActorSystem<Void> own = ActorSystem.create(Behaviors.empty(), "batcher-on-run-thread",
                com.typesafe.config.ConfigFactory.parseString(
                        "meshinfer.runtime-dispatcher.spinning-executor.pool-size = 1")
                        .withFallback(com.typesafe.config.ConfigFactory.load()));
        try {
            Executor runThread = own.dispatchers().lookup(
                    org.apache.pekko.actor.typed.DispatcherSelector.fromConfig("meshinfer.runtime-dispatcher"));
            LoadedModel m = model("mlp");
            Batcher b = Batcher.start("mlp-run-thread", m, policy(16, Duration.ZERO, 512, 2), runThread,
                    Materializer.createMaterializer(own), "meshinfer.runtime-dispatcher");
            started.add(b);
            assertEachCallerGetsItsOwnResult(b, m, 300, new Random(31));
            assertEquals(300, b.stats().succeeded());
            assertEquals(b.stats().runs(), m.runCount());
        } finally {
            own.terminate();
            own.getWhenTerminated().toCompletableFuture().get(WAIT_SECONDS, TimeUnit.SECONDS);
        }
    }

    @Test
    void anIdleBatcherRunsASingleRequestAtOnce() throws Exception {
        LoadedModel m = model("mlp");
        Batcher b = start("mlp-idle", m, policy(16, Duration.ZERO, 16, 2), runPool);
        Answers answers = new Answers();
        float[] x = randomFloats(new Random(4), 12);

        Answers.Answer a = answers.submit(b, mlpRequest(m, x), far(), "single").await();

        assertTrue(a.succeeded(), "answer: " + a);
        assertEquals(3, a.batchRows(), "the run held this request's rows only");
        assertTrue(a.queueNanos() >= 0);
        assertArrayEquals(TestModels.mlpReference(x, 3), a.output("y").floats(), 1e-5f);
        finish(b, answers);
    }

    @Test
    void requestsSentOneAfterAnotherEachRunAlone() throws Exception {
        LoadedModel m = model("mlp");
        Batcher b = start("mlp-sequential", m, policy(16, Duration.ZERO, 16, 2), runPool);
        Answers answers = new Answers();
        Random rnd = new Random(5);

        for (int i = 1; i <= 5; i++) {
            Answers.Answer a = answers.submit(b, mlpRequest(m, randomFloats(rnd, 4 * i)), far(), "#" + i).await();
            assertEquals(i, a.batchRows(), "nothing waits for company when the batcher is idle");
        }
        finish(b, answers);

        assertEquals(5, b.stats().runs());
    }

    @Test
    void aRequestLargerThanMaxBatchRunsAloneInOneRun() throws Exception {
        LoadedModel m = model("mlp");
        Batcher b = start("mlp-large", m, policy(16, Duration.ZERO, 16, 1), runPool);
        Answers answers = new Answers();
        float[] x = randomFloats(new Random(6), 40 * 4);

        Answers.Answer a = answers.submit(b, mlpRequest(m, x), far(), "large").await();

        assertEquals(40, a.batchRows());
        assertArrayEquals(TestModels.mlpReference(x, 40), a.output("y").floats(), 1e-5f);
        finish(b, answers);
    }

    @Test
    void aZeroRowRequestSharesABatchAndGetsAnEmptyResult() throws Exception {
        LoadedModel m = model("mlp");
        GatedExecutor gate = gate();
        Batcher b = start("mlp-zero-rows", m, policy(16, Duration.ZERO, 16, 1), gate);
        Answers answers = new Answers();
        Random rnd = new Random(20);
        float[] x = randomFloats(rnd, 8);

        answers.submit(b, mlpRequest(m, randomFloats(rnd, 4)), far(), "running");
        gate.awaitDispatched(1);
        Answers.Sink empty = answers.submit(b, mlpRequest(m, new float[0]), far(), "empty");
        Answers.Sink two = answers.submit(b, mlpRequest(m, x), far(), "two");
        gate.open();
        finish(b, answers);

        assertArrayEquals(new long[] {0, 3}, empty.now().output("y").shape());
        assertEquals(2, empty.now().batchRows());
        assertArrayEquals(TestModels.mlpReference(x, 2), two.now().output("y").floats(), 1e-5f);
    }

    // ---- batching with a delay -------------------------------------------------------------------

    @Test
    void aDelayHoldsAnIncompleteBatchForTheNextRequest() throws Exception {
        LoadedModel m = model("mlp");
        // the delay is far longer than the test: only a full batch can leave
        Batcher b = start("mlp-delay-hold", m, policy(2, Duration.ofMinutes(10), 16, 1), runPool);
        Answers answers = new Answers();
        Random rnd = new Random(7);

        Answers.Sink first = answers.submit(b, mlpRequest(m, randomFloats(rnd, 4)), far(), "first");
        assertFalse(first.answered(), "an incomplete batch waits");
        Answers.Sink second = answers.submit(b, mlpRequest(m, randomFloats(rnd, 4)), far(), "second");

        assertEquals(2, first.await().batchRows());
        assertEquals(2, second.await().batchRows());
        assertEquals(1, b.stats().runs());
        finish(b, answers);
    }

    @Test
    void aDelayGroupsQuickRequestsIntoFullBatches() throws Exception {
        LoadedModel m = model("mlp");
        Batcher b = start("mlp-delay-full", m, policy(4, Duration.ofMinutes(10), 16, 1), runPool);
        Answers answers = new Answers();
        Random rnd = new Random(8);
        List<float[]> inputs = new ArrayList<>();

        for (int i = 0; i < 8; i++) {
            inputs.add(randomFloats(rnd, 4));
            answers.submit(b, mlpRequest(m, inputs.get(i)), far(), "#" + i);
        }
        List<Answers.Answer> all = answers.awaitAll();
        finish(b, answers);

        assertEquals(2, b.stats().runs(), "eight one-row requests make two full batches of four");
        for (int i = 0; i < all.size(); i++) {
            assertEquals(4, all.get(i).batchRows());
            assertArrayEquals(TestModels.mlpReference(inputs.get(i), 1), all.get(i).output("y").floats(), 1e-5f);
        }
    }

    @Test
    void anIncompleteBatchLeavesWhenTheDelayPasses() throws Exception {
        LoadedModel m = model("mlp");
        Batcher b = start("mlp-delay-flush", m, policy(16, Duration.ofMillis(20), 16, 1), runPool);
        Answers answers = new Answers();
        Random rnd = new Random(9);

        for (int i = 0; i < 3; i++) {
            answers.submit(b, mlpRequest(m, randomFloats(rnd, 4)), far(), "#" + i);
        }
        List<Answers.Answer> all = answers.awaitAll();
        finish(b, answers);

        for (Answers.Answer a : all) {
            assertTrue(a.succeeded(), "answer: " + a);
            assertTrue(a.batchRows() >= 1 && a.batchRows() <= 3);
        }
        assertTrue(b.stats().runs() <= 3);
    }

    @Test
    void aRequestThatFillsABatchDoesNotWaitForTheDelay() throws Exception {
        LoadedModel m = model("mlp");
        Batcher b = start("mlp-delay-large", m, policy(16, Duration.ofMinutes(10), 16, 1), runPool);
        Answers answers = new Answers();
        Random rnd = new Random(21);

        Answers.Answer full = answers.submit(b, mlpRequest(m, randomFloats(rnd, 16 * 4)), far(), "full").await();
        Answers.Answer larger = answers.submit(b, mlpRequest(m, randomFloats(rnd, 20 * 4)), far(), "larger").await();
        finish(b, answers);

        assertEquals(16, full.batchRows());
        assertEquals(20, larger.batchRows());
    }

    @Test
    void aRequestToAnUnbatchableModelDoesNotWaitForTheDelay() throws Exception {
        LoadedModel m = model("scalarInput");
        Batcher b = start("scalar-delay", m, policy(16, Duration.ofMinutes(10), 16, 1), runPool);
        Answers answers = new Answers();

        Answers.Answer a = answers.submit(b, prepare(m,
                new NamedTensor("x", Tensor.ofFloats(new long[] {1, 4}, 1, 2, 3, 4)),
                new NamedTensor("scale", Tensor.ofFloats(new long[0], 3f))), far(), "scaled").await();
        finish(b, answers);

        assertEquals(1, a.batchRows());
        assertArrayEquals(new float[] {3, 6, 9, 12}, a.output("y").floats(), 1e-6f);
    }

    // ---- overload, deadlines, failures -----------------------------------------------------------

    @Test
    void aFullQueueAnswersOverloadedInsideSubmit() throws Exception {
        LoadedModel m = model("mlp");
        GatedExecutor gate = gate();
        Batcher b = start("mlp-overload", m, policy(1, Duration.ZERO, 4, 1), gate);
        Answers answers = new Answers();
        Random rnd = new Random(10);

        answers.submit(b, mlpRequest(m, randomFloats(rnd, 4)), far(), "running");
        gate.awaitDispatched(1);
        for (int i = 0; i < 20; i++) {
            answers.submit(b, mlpRequest(m, randomFloats(rnd, 4)), far(), "#" + i);
        }

        long overloaded = answers.count(ErrorKind.OVERLOADED);
        // while the run is blocked the stream holds the queue (4), one batch of maxBatch (1) and one
        // element waiting to join the next batch; everything beyond is refused at once
        assertTrue(overloaded >= 20 - 6, "overloaded: " + overloaded);
        assertEquals(overloaded, answers.sinks().stream().filter(Answers.Sink::answered).count(),
                "nothing but the refusals is answered while the run is blocked");
        for (Answers.Sink s : answers.sinks()) {
            if (s.answered()) {
                Answers.Answer a = s.now();
                assertEquals(ErrorKind.OVERLOADED, a.kind());
                assertTrue(a.deliveredDuringSubmit(), "OVERLOADED is answered before submit returns");
                assertEquals("replica mlp-overload is overloaded: its queue of 4 requests is full", a.error().message());
            }
        }
        assertEquals(overloaded, b.stats().overloaded());

        gate.open();
        finish(b, answers);

        assertEquals(21 - overloaded, answers.successes());
        assertEquals(21, answers.successes() + answers.count(ErrorKind.OVERLOADED));
    }

    /**
     * A batcher under a queued-work limit of a nanosecond, warmed by 20 runs that go through
     * (so it knows how long a row takes), then one request ("running") whose run waits at
     * {@code gate}: every request submitted after this is queued behind it.
     */
    private Batcher warmWithARunAtTheGate(String name, LoadedModel m, int maxBatch, GatedExecutor gate,
                                          Answers answers, Random rnd) throws Exception {
        AtomicInteger runs = new AtomicInteger();
        Executor firstThenGated = task -> {
            if (runs.incrementAndGet() <= 20) {
                runPool.execute(task);
            } else {
                gate.execute(task);
            }
        };
        Batcher b = start(name, m, new BatchPolicy(maxBatch, Duration.ZERO, 256, 1, Duration.ofNanos(1)),
                firstThenGated);
        for (int i = 0; i < 20; i++) {
            answers.submit(b, mlpRequest(m, randomFloats(rnd, 4)), far(), "calibration " + i);
            answers.awaitAll();
        }
        answers.submit(b, mlpRequest(m, randomFloats(rnd, 4)), far(), "running");
        gate.awaitDispatched(1);
        return b;
    }

    @Test
    void moreQueuedWorkThanTheDelayLimitIsAnsweredOverloadedInsideSubmit() throws Exception {
        LoadedModel m = model("mlp");
        GatedExecutor gate = gate();
        Answers answers = new Answers();
        Random rnd = new Random(11);
        Batcher b = warmWithARunAtTheGate("mlp-delay", m, 1, gate, answers, rnd);

        for (int i = 0; i < 20; i++) {
            answers.submit(b, mlpRequest(m, randomFloats(rnd, 4)), far(), "#" + i);
        }
        // the queue (256) is far from full, but any queued row is more than a nanosecond of work
        long overloaded = answers.count(ErrorKind.OVERLOADED);
        assertTrue(overloaded >= 18, "overloaded: " + overloaded);
        for (Answers.Sink s : answers.sinks()) {
            if (s.answered() && !s.now().succeeded()) {
                assertTrue(s.now().deliveredDuringSubmit(), "OVERLOADED is answered before submit returns");
                assertTrue(s.now().error().message().startsWith("replica mlp-delay is overloaded: about "),
                        s.now().error().message());
            }
        }
        gate.open();
        finish(b, answers);
        assertEquals(41, answers.successes() + answers.count(ErrorKind.OVERLOADED));
    }

    /**
     * Rows that fit in the next batch are accepted whatever the limit; one row more would
     * wait a whole further run, which is more than the limit, so it is refused even though
     * only that one row is beyond the next batch.
     */
    @Test
    void queuedWorkCountsInWholeRounds() throws Exception {
        LoadedModel m = model("mlp");
        GatedExecutor gate = gate();
        Answers answers = new Answers();
        Batcher b = warmWithARunAtTheGate("mlp-rounds", m, 4, gate, answers, new Random(12));
        Random rnd = new Random(13);
        List<Answers.Sink> queued = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            queued.add(answers.submit(b, mlpRequest(m, randomFloats(rnd, 4)), far(), "#" + i));
        }

        // "running" waits at the gate before its run starts, so it still counts as queued: three
        // more rows fill the next batch of four
        for (int i = 0; i < 10; i++) {
            Answers.Sink s = queued.get(i);
            if (i < 3) {
                assertFalse(s.answered(), "#" + i + " fits in the next batch and waits for it");
            } else {
                assertTrue(s.answered() && s.now().deliveredDuringSubmit(), "#" + i + " is refused inside submit");
                assertEquals(ErrorKind.OVERLOADED, s.now().kind());
            }
        }
        gate.open();
        finish(b, answers);
        assertEquals(24, answers.successes());
        assertEquals(7, answers.count(ErrorKind.OVERLOADED));
    }

    @Test
    void aRequestWhoseDeadlinePassesInTheQueueIsNotRun() throws Exception {
        LoadedModel m = model("mlp");
        GatedExecutor gate = gate();
        Batcher b = start("mlp-deadline", m, policy(16, Duration.ZERO, 16, 1), gate);
        Answers answers = new Answers();
        Random rnd = new Random(11);

        Answers.Sink running = answers.submit(b, mlpRequest(m, randomFloats(rnd, 4)), far(), "running");
        gate.awaitDispatched(1);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1);
        Answers.Sink late = answers.submit(b, mlpRequest(m, randomFloats(rnd, 4)), deadline, "late");
        await().atMost(Duration.ofSeconds(5)).until(() -> System.nanoTime() - deadline > 0);
        assertFalse(late.answered());
        gate.open();
        finish(b, answers);

        assertTrue(running.now().succeeded());
        Answers.Answer a = late.now();
        assertEquals(ErrorKind.DEADLINE_EXCEEDED, a.kind());
        assertTrue(a.error().message().startsWith("the deadline passed after "), a.error().message());
        assertTrue(a.error().message().endsWith(" ms in the queue of replica mlp-deadline"), a.error().message());
        assertEquals(1, m.runCount(), "only the first request ran");
        assertEquals(1, b.stats().expired());
        assertEquals(1, b.stats().runs());
    }

    @Test
    void anExpiredRequestLeavesItsBatchWithoutItsRows() throws Exception {
        LoadedModel m = model("mlp");
        GatedExecutor gate = gate();
        Batcher b = start("mlp-deadline-batch", m, policy(16, Duration.ZERO, 16, 1), gate);
        Answers answers = new Answers();
        Random rnd = new Random(12);

        answers.submit(b, mlpRequest(m, randomFloats(rnd, 4)), far(), "running");
        gate.awaitDispatched(1);
        Answers.Sink before = answers.submit(b, mlpRequest(m, randomFloats(rnd, 8)), far(), "before");
        Answers.Sink expired = answers.submit(b, mlpRequest(m, randomFloats(rnd, 12)), System.nanoTime(), "expired");
        Answers.Sink after = answers.submit(b, mlpRequest(m, randomFloats(rnd, 4)), far(), "after");
        gate.open();
        finish(b, answers);

        assertEquals(ErrorKind.DEADLINE_EXCEEDED, expired.now().kind());
        assertEquals(3, before.now().batchRows(), "2 + 1 rows: the expired request's 3 rows were left out");
        assertEquals(3, after.now().batchRows());
        assertEquals(2, m.runCount());
    }

    private static long[] tokens(Random rnd, int rows) {
        long[] t = new long[rows * 6];
        for (int i = 0; i < t.length; i++) {
            t[i] = rnd.nextInt(32) - 16;
        }
        return t;
    }

    /** What the embedding model computes: per row, the mean of table rows [t, t/2, -t, 1]. */
    private static float[] embeddingReference(long[] tokens) {
        int rows = tokens.length / 6;
        float[] out = new float[rows * 4];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < 6; k++) {
                long t = tokens[r * 6 + k];
                float id = t < 0 ? t + 16 : t;
                out[r * 4] += id / 6f;
                out[r * 4 + 1] += id / 2f / 6f;
                out[r * 4 + 2] += -id / 6f;
                out[r * 4 + 3] += 1f / 6f;
            }
        }
        return out;
    }

    private static Prepared embeddingRequest(LoadedModel m, long[] tokens) {
        return prepare(m, new NamedTensor("tokens", Tensor.ofLongs(new long[] {tokens.length / 6, 6}, tokens)));
    }

    @Test
    void aPoisonedRequestFailsAloneAndItsBatchNeighboursSucceed() throws Exception {
        LoadedModel m = model("embedding");
        GatedExecutor gate = gate();
        Batcher b = start("embedding-poison", m, policy(16, Duration.ZERO, 16, 1), gate);
        Answers answers = new Answers();
        Random rnd = new Random(13);
        List<long[]> inputs = new ArrayList<>();

        inputs.add(tokens(rnd, 1));
        answers.submit(b, embeddingRequest(m, inputs.get(0)), far(), "running");
        gate.awaitDispatched(1);
        for (int i = 1; i <= 7; i++) {
            long[] t = tokens(rnd, 1 + i % 2);
            if (i == 3) {
                t[7] = 16; // one token out of range in the request's second row
            }
            inputs.add(t);
            answers.submit(b, embeddingRequest(m, t), far(), "#" + i);
        }
        gate.open();
        finish(b, answers);

        for (int i = 0; i < inputs.size(); i++) {
            Answers.Answer a = answers.sinks().get(i).now();
            if (i == 3) {
                assertEquals(ErrorKind.MODEL_FAILED, a.kind());
                assertTrue(a.error().message().startsWith("the model failed on this input: "), a.error().message());
            } else {
                assertTrue(a.succeeded(), "request " + i + ": " + a);
                assertArrayEquals(embeddingReference(inputs.get(i)), a.output("embedding").floats(), 1e-5f,
                        "request " + i);
            }
        }
        BatcherStats.Snapshot s = b.stats();
        assertEquals(7, s.retriedAlone(), "the failed batch of seven was re-run one request at a time");
        assertEquals(7, s.succeeded());
        assertEquals(1, s.failed());
    }

    @Test
    void aPoisonedRequestAloneFailsWithoutARetry() throws Exception {
        LoadedModel m = model("embedding");
        Batcher b = start("embedding-alone", m, policy(16, Duration.ZERO, 16, 1), runPool);
        Answers answers = new Answers();

        Answers.Answer a = answers.submit(b, embeddingRequest(m, new long[] {0, 1, 2, 3, 4, -17}), far(), "poison")
                .await();
        finish(b, answers);

        assertEquals(ErrorKind.MODEL_FAILED, a.kind());
        assertEquals(0, b.stats().retriedAlone());
        assertEquals(1, m.runCount());
    }

    /** A sink that records its answer and then throws, like a caller's callback with a bug. */
    private static ResultSink throwing(Answers.Sink inner) {
        return new ResultSink() {
            @Override
            public void success(List<NamedTensor> outputs, int batchRows, long queueNanos) {
                inner.success(outputs, batchRows, queueNanos);
                throw new IllegalStateException("callback bug");
            }

            @Override
            public void failure(InferenceError error) {
                inner.failure(error);
                throw new IllegalStateException("callback bug");
            }
        };
    }

    @Test
    void aThrowingResultSinkDoesNotCostItsBatchNeighboursTheirResults() throws Exception {
        LoadedModel m = model("mlp");
        GatedExecutor gate = gate();
        Batcher b = start("mlp-throwing-sink", m, policy(16, Duration.ZERO, 16, 1), gate);
        Answers answers = new Answers();
        Random rnd = new Random(14);

        answers.submit(b, mlpRequest(m, randomFloats(rnd, 4)), far(), "running");
        gate.awaitDispatched(1);
        float[] x1 = randomFloats(rnd, 4);
        float[] x3 = randomFloats(rnd, 4);
        Answers.Sink first = answers.submit(b, mlpRequest(m, x1), far(), "first");
        b.submit(mlpRequest(m, randomFloats(rnd, 4)), far(), throwing(answers.sink("throwing")));
        Answers.Sink third = answers.submit(b, mlpRequest(m, x3), far(), "third");
        gate.open();
        finish(b, answers);

        assertArrayEquals(TestModels.mlpReference(x1, 1), first.now().output("y").floats(), 1e-5f);
        assertTrue(third.now().succeeded(), "a neighbour's callback failure must not fail this request: "
                + third.now());
        assertArrayEquals(TestModels.mlpReference(x3, 1), third.now().output("y").floats(), 1e-5f);
    }

    // ---- shapes and models that cannot batch -----------------------------------------------------

    private static Prepared convRequest(LoadedModel m, float[] image, int side) {
        return prepare(m, new NamedTensor("image", Tensor.ofFloats(new long[] {1, 3, side, side}, image)));
    }

    @Test
    void requestsOfDifferentShapesNeverShareARun() throws Exception {
        LoadedModel m = model("dynamicConv");
        GatedExecutor gate = gate();
        Batcher b = start("conv-shapes", m, policy(16, Duration.ZERO, 64, 1), gate);
        Answers answers = new Answers();
        Random rnd = new Random(15);
        List<float[]> images = new ArrayList<>();
        List<Integer> sides = new ArrayList<>();
        for (int i = 0; i < 13; i++) {
            int side = i % 2 == 0 ? 8 : 16;
            sides.add(side);
            images.add(randomFloats(rnd, 3 * side * side));
        }

        Answers.Sink first = answers.submit(b, convRequest(m, images.get(0), 8), far(), "first");
        gate.awaitDispatched(1);
        List<Answers.Sink> sinks = new ArrayList<>(List.of(first));
        sinks.addAll(submitConcurrently(answers, b, 12, i -> convRequest(m, images.get(i + 1), sides.get(i + 1))));
        gate.open();
        finish(b, answers);

        for (int i = 0; i < sinks.size(); i++) {
            Answers.Sink s = sinks.get(i);
            int side = sides.get(i);
            Tensor features = s.now().output("features");
            assertArrayEquals(new long[] {1, 2, side, side}, features.shape(), "request " + i);
            Tensor single = alone(m, convRequest(m, images.get(i), side)).get(0).tensor();
            assertTrue(features.maxAbsDifference(single) <= 1e-5, "request " + i);
            if (i > 0) {
                assertEquals(6, s.now().batchRows(), "six requests of each size share one run");
            }
        }
        assertEquals(3, b.stats().runs(), "the first request, then one run per image size");
    }

    private void assertUnbatchableRunsOneRequestPerRun(String kind, IntFunction<NamedTensor[]> inputs,
                                                       IntFunction<float[]> expected) throws Exception {
        LoadedModel m = model(kind);
        assertFalse(m.signature().batchable());
        GatedExecutor gate = gate();
        Batcher b = start(kind + "-unbatchable", m, policy(16, Duration.ZERO, 64, 2), gate);
        Answers answers = new Answers();
        int n = 12;

        List<Answers.Sink> sinks = submitConcurrently(answers, b, n, i -> prepare(m, inputs.apply(i)));
        gate.open();
        finish(b, answers);

        String output = m.signature().outputs().get(0).name();
        for (int i = 0; i < n; i++) {
            Answers.Sink s = sinks.get(i);
            assertEquals(1, s.now().batchRows(), "request " + i);
            assertArrayEquals(expected.apply(i), s.now().output(output).floats(), 1e-6f, "request " + i);
        }
        assertEquals(n, b.stats().runs());
        assertEquals(n, m.runCount());
        assertEquals(1.0, b.stats().meanBatchRequests());
    }

    private static float[] sequence(int start, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = start + i * 0.5f;
        }
        return x;
    }

    @Test
    void aModelWithoutBatchAxisRunsOneRequestPerRun() throws Exception {
        assertUnbatchableRunsOneRequestPerRun("noBatchAxis",
                i -> new NamedTensor[] {new NamedTensor("m", Tensor.ofFloats(new long[] {3, 4}, sequence(i, 12)))},
                i -> {
                    float[] t = sequence(i, 12);
                    for (int j = 0; j < t.length; j++) {
                        t[j] *= 2;
                    }
                    return t;
                });
    }

    @Test
    void aModelWithAScalarInputRunsOneRequestPerRun() throws Exception {
        assertUnbatchableRunsOneRequestPerRun("scalarInput",
                i -> new NamedTensor[] {
                    new NamedTensor("x", Tensor.ofFloats(new long[] {2, 4}, sequence(i, 8))),
                    new NamedTensor("scale", Tensor.ofFloats(new long[0], i + 1f))},
                i -> {
                    float[] y = sequence(i, 8);
                    for (int j = 0; j < y.length; j++) {
                        y[j] *= i + 1f;
                    }
                    return y;
                });
    }

    @Test
    void aModelBatchedOnItsSecondAxisRunsOneRequestPerRun() throws Exception {
        assertUnbatchableRunsOneRequestPerRun("batchOnSecondAxis",
                i -> new NamedTensor[] {new NamedTensor("state",
                        Tensor.ofFloats(new long[] {2, 1 + i % 3, 3}, sequence(i, 2 * (1 + i % 3) * 3)))},
                i -> {
                    float[] next = sequence(i, 2 * (1 + i % 3) * 3);
                    for (int j = 0; j < next.length; j++) {
                        next[j] += 1;
                    }
                    return next;
                });
    }

    @Test
    void eachRequestGetsExactlyTheOutputsItAskedFor() throws Exception {
        LoadedModel m = model("twoInTwoOut");
        GatedExecutor gate = gate();
        Batcher b = start("two-outputs", m, policy(16, Duration.ZERO, 16, 1), gate);
        Answers answers = new Answers();
        List<List<String>> asked = List.of(List.of("product"), List.of("sum"), List.of(), List.of("product", "sum"));
        List<float[]> as = new ArrayList<>();
        List<float[]> bs = new ArrayList<>();

        answers.submit(b, prepare(m, List.of("product"),
                new NamedTensor("a", Tensor.ofFloats(new long[] {1, 3}, 1, 1, 1)),
                new NamedTensor("b", Tensor.ofFloats(new long[] {1, 3}, 1, 1, 1))), far(), "running");
        gate.awaitDispatched(1);
        for (int i = 0; i < asked.size(); i++) {
            int rows = 1 + i % 2;
            float[] a = sequence(i, rows * 3);
            float[] c = sequence(10 * i, rows * 3);
            as.add(a);
            bs.add(c);
            answers.submit(b, prepare(m, asked.get(i),
                    new NamedTensor("a", Tensor.ofFloats(new long[] {rows, 3}, a)),
                    new NamedTensor("b", Tensor.ofFloats(new long[] {rows, 3}, c))), far(), "#" + i);
        }
        gate.open();
        finish(b, answers);

        Answers.Answer onlyProduct = answers.sinks().get(0).now();
        assertEquals(List.of("product"), onlyProduct.outputs().stream().map(NamedTensor::name).toList());
        assertArrayEquals(new float[] {1, 1, 1}, onlyProduct.output("product").floats());
        for (int i = 0; i < asked.size(); i++) {
            Answers.Answer a = answers.sinks().get(i + 1).now();
            Set<String> expectedNames = asked.get(i).isEmpty() ? Set.of("sum", "product") : Set.copyOf(asked.get(i));
            assertEquals(expectedNames, Set.copyOf(a.outputs().stream().map(NamedTensor::name).toList()),
                    "request " + i);
            assertEquals(expectedNames.size(), a.outputs().size());
            assertEquals(6, a.batchRows(), "the four requests (1 + 2 + 1 + 2 rows) shared one run");
            float[] x = as.get(i);
            float[] y = bs.get(i);
            if (expectedNames.contains("sum")) {
                float[] sum = new float[x.length];
                for (int j = 0; j < x.length; j++) {
                    sum[j] = x[j] + y[j];
                }
                assertArrayEquals(sum, a.output("sum").floats(), 1e-6f);
            }
            if (expectedNames.contains("product")) {
                float[] product = new float[x.length];
                for (int j = 0; j < x.length; j++) {
                    product[j] = x[j] * y[j];
                }
                assertArrayEquals(product, a.output("product").floats(), 1e-6f);
            }
        }
    }

    @Test
    void everyElementTypeRoundTripsThroughABatch() throws Exception {
        LoadedModel m = model("allTypes");
        GatedExecutor gate = gate();
        Batcher b = start("all-types", m, policy(256, Duration.ZERO, 16, 1), gate);
        Answers answers = new Answers();
        Random rnd = new Random(16);
        List<List<NamedTensor>> requests = new ArrayList<>();
        for (int r = 0; r < 5; r++) {
            int rows = r == 0 ? 1 : 32;
            int n = rows * 2;
            double[] fp64 = new double[n];
            int[] int32 = new int[n];
            byte[] uint8 = new byte[n];
            boolean[] bool = new boolean[n];
            long[] int64 = new long[n];
            for (int i = 0; i < n; i++) {
                fp64[i] = rnd.nextGaussian() * 1e200;
                int32[i] = rnd.nextInt();
                uint8[i] = (byte) ((r - 1) * 64 + i); // requests 1-4 hold 0..255 between them
                bool[i] = rnd.nextBoolean();
                int64[i] = rnd.nextLong();
            }
            if (r == 1) {
                fp64[0] = Double.NaN;
                fp64[1] = Double.POSITIVE_INFINITY;
                int32[0] = Integer.MIN_VALUE;
                int64[0] = Long.MAX_VALUE;
                int64[1] = Long.MIN_VALUE;
            }
            long[] shape = {rows, 2};
            requests.add(List.of(
                    new NamedTensor("fp64", Tensor.ofDoubles(shape, fp64)),
                    new NamedTensor("int32", Tensor.ofInts(shape, int32)),
                    new NamedTensor("uint8", Tensor.ofUint8(shape, uint8)),
                    new NamedTensor("bool", Tensor.ofBooleans(shape, bool)),
                    new NamedTensor("int64", Tensor.ofLongs(shape, int64))));
        }

        answers.submit(b, prepare(m, requests.get(0).toArray(NamedTensor[]::new)), far(), "running");
        gate.awaitDispatched(1);
        for (int r = 1; r < requests.size(); r++) {
            answers.submit(b, prepare(m, requests.get(r).toArray(NamedTensor[]::new)), far(), "#" + r);
        }
        gate.open();
        finish(b, answers);

        for (int r = 0; r < requests.size(); r++) {
            Answers.Answer a = answers.sinks().get(r).now();
            assertEquals(r == 0 ? 1 : 128, a.batchRows());
            for (NamedTensor in : requests.get(r)) {
                Tensor out = a.output(in.name() + "_out");
                assertTrue(in.tensor().contentEquals(out), "request " + r + " " + in.name() + ": " + out);
            }
        }
        double[] uint8Values = answers.sinks().subList(1, 5).stream()
                .flatMapToDouble(s -> {
                    Tensor t = s.now().output("uint8_out");
                    return IntStream.range(0, t.size()).mapToDouble(t::getAsDouble);
                })
                .toArray();
        assertEquals(256, uint8Values.length);
        for (int v = 0; v < 256; v++) {
            assertEquals(v, uint8Values[v], "UINT8 values come back unsigned");
        }
        assertEquals(2, b.stats().runs());
    }

    // ---- stopping --------------------------------------------------------------------------------

    @Test
    void drainFinishesAcceptedRequestsAndRefusesNewOnes() throws Exception {
        LoadedModel m = model("mlp");
        GatedExecutor gate = gate();
        // a batch of 2 holds few requests: most wait in the queue itself when drain starts
        Batcher b = start("mlp-drain", m, policy(2, Duration.ZERO, 32, 1), gate);
        Answers answers = new Answers();
        Random rnd = new Random(17);
        List<float[]> inputs = new ArrayList<>();

        for (int i = 0; i < 11; i++) {
            inputs.add(randomFloats(rnd, 4));
            answers.submit(b, mlpRequest(m, inputs.get(i)), far(), "#" + i);
            if (i == 0) {
                gate.awaitDispatched(1);
            }
        }
        CompletableFuture<?> drained = b.drain().toCompletableFuture();
        assertFalse(drained.isDone(), "drain waits for the accepted requests");
        Answers refused = new Answers();
        Answers.Sink late = refused.submit(b, mlpRequest(m, randomFloats(rnd, 4)), far(), "late");
        assertTrue(late.answered(), "a submit during drain is answered at once");
        assertEquals(ErrorKind.UNAVAILABLE, late.now().kind());
        assertEquals("replica mlp-drain is stopping", late.now().error().message());
        gate.open();
        drained.get(WAIT_SECONDS, TimeUnit.SECONDS);

        answers.assertEachAnsweredExactlyOnce();
        refused.assertEachAnsweredExactlyOnce();
        for (int i = 0; i < inputs.size(); i++) {
            assertArrayEquals(TestModels.mlpReference(inputs.get(i), 1),
                    answers.sinks().get(i).now().output("y").floats(), 1e-5f, "request " + i);
        }
        assertEquals(0, b.outstanding());
        assertTrue(b.whenTerminated().toCompletableFuture().isDone());
        assertTrue(b.drain().toCompletableFuture().isDone(), "a second drain returns the same completion");
        Answers.Sink afterDrain = refused.submit(b, mlpRequest(m, randomFloats(rnd, 4)), far(), "after");
        assertEquals(ErrorKind.UNAVAILABLE, afterDrain.now().kind());
    }

    @Test
    void abortAnswersEveryOutstandingRequestUnavailable() throws Exception {
        LoadedModel m = model("mlp");
        GatedExecutor gate = gate();
        Batcher b = start("mlp-abort", m, policy(2, Duration.ZERO, 32, 1), gate);
        Answers answers = new Answers();
        Random rnd = new Random(18);

        for (int i = 0; i < 11; i++) {
            answers.submit(b, mlpRequest(m, randomFloats(rnd, 4)), far(), "#" + i);
            if (i == 0) {
                gate.awaitDispatched(1);
            }
        }
        b.abort();

        for (Answers.Sink s : answers.sinks()) {
            assertTrue(s.answered(), "request " + s.label + " is answered by abort itself");
            assertEquals(ErrorKind.UNAVAILABLE, s.now().kind());
            assertEquals("replica mlp-abort was stopped", s.now().error().message());
        }
        assertEquals(0, b.outstanding());
        Answers.Sink late = answers.submit(b, mlpRequest(m, randomFloats(rnd, 4)), far(), "late");
        assertEquals(ErrorKind.UNAVAILABLE, late.now().kind());

        gate.open();
        b.whenTerminated().toCompletableFuture().get(WAIT_SECONDS, TimeUnit.SECONDS);
        answers.assertEachAnsweredExactlyOnce();
        assertEquals(0, m.runCount(), "the blocked run found its requests answered and did not run");
        assertEquals(12, b.stats().failed());
    }

    @Test
    void stoppingTheMaterializerAnswersEveryOutstandingRequest() throws Exception {
        LoadedModel m = model("mlp");
        GatedExecutor gate = gate();
        Materializer own = Materializer.createMaterializer(system);
        Batcher b = Batcher.start("mlp-mat-stop", m, policy(2, Duration.ZERO, 32, 1), gate, own);
        Answers answers = new Answers();
        Random rnd = new Random(19);

        for (int i = 0; i < 6; i++) {
            answers.submit(b, mlpRequest(m, randomFloats(rnd, 4)), far(), "#" + i);
            if (i == 0) {
                gate.awaitDispatched(1);
            }
        }
        own.shutdown();
        b.whenTerminated().toCompletableFuture().handle((d, e) -> d).get(WAIT_SECONDS, TimeUnit.SECONDS);

        for (Answers.Sink s : answers.sinks()) {
            assertEquals(ErrorKind.UNAVAILABLE, s.await().kind());
        }
        gate.open();
        Answers.Sink late = answers.submit(b, mlpRequest(m, randomFloats(rnd, 4)), far(), "late");
        assertEquals(ErrorKind.UNAVAILABLE, late.now().kind());
        answers.assertEachAnsweredExactlyOnce();
        // a stopping replica drains its batcher and releases the model when the drain completes;
        // on a stream that already ended, drain must return that completion, not throw
        assertDoesNotThrow(() -> b.drain().toCompletableFuture().handle((d, e) -> d)
                .get(WAIT_SECONDS, TimeUnit.SECONDS));
        assertDoesNotThrow(b::abort);
    }
}
