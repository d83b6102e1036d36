package io.meshinfer.batching;

import io.meshinfer.api.ErrorKind;
import io.meshinfer.api.InferenceError;
import io.meshinfer.api.InferenceException;
import io.meshinfer.runtime.RunScratch;
import io.meshinfer.runtime.LoadedModel;
import io.meshinfer.runtime.ModelSignature.Prepared;
import io.meshinfer.tensor.NamedTensor;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.Done;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.ActorAttributes;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.QueueOfferResult;
import org.apache.pekko.stream.Supervision;
import org.apache.pekko.stream.UniqueKillSwitch;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dynamic batcher of one model replica: a Pekko Streams pipeline from a bounded
 * queue through batch formation to concurrent ONNX Runtime runs.
 *
 * <p>Guarantees:
 * <ul>
 *   <li>A full queue answers {@code OVERLOADED} at once, inside {@link #submit}; so does a
 *       queue holding more than {@code maxQueueDelay} of work beyond the next batch of each
 *       run slot, estimated from recent runs in whole rounds of full batches.</li>
 *   <li>With {@code maxDelay = 0} a request reaching an idle batcher runs at once; while
 *       every run slot is busy, arriving requests accumulate ({@code batchWeighted}) into
 *       the next batch of up to {@code maxBatch} rows. With {@code maxDelay > 0} a batch
 *       may wait up to that long to fill.</li>
 *   <li>Only requests with the same batch key (non-batch dimensions) share a run; a model
 *       without a batch axis runs one request per run.</li>
 *   <li>A request whose deadline passed while queued is answered {@code DEADLINE_EXCEEDED}
 *       without running. If a batched run fails, its requests are re-run one by one, so
 *       one poisoned request fails alone.</li>
 *   <li>Every submitted request is answered exactly once: by its run, by {@link #drain}
 *       finishing the queue, or with {@code UNAVAILABLE} by {@link #abort}.</li>
 * </ul>
 * Runs execute on the given executor (the node's blocking runtime dispatcher), at most
 * {@code concurrentRuns} at a time; answers are delivered on the run's thread.
 */
public final class Batcher {
    private static final Logger log = LoggerFactory.getLogger(Batcher.class);

    private final String name;
    private final LoadedModel model;
    private final BatchPolicy policy;
    private final Executor runExecutor;
    private final BatcherStats stats = new BatcherStats();
    private final Set<Item> outstanding = ConcurrentHashMap.newKeySet();
    private final BoundedSourceQueue<Item> queue;
    private final UniqueKillSwitch killSwitch;
    private final CompletionStage<Done> done;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final java.util.concurrent.atomic.AtomicLong queuedRows = new java.util.concurrent.atomic.AtomicLong();
    private volatile double nanosPerRow;
    private static final int WARM_RUNS = 20;
    private final java.util.concurrent.BlockingQueue<RunScratch> scratches;

    private Batcher(String name, LoadedModel model, BatchPolicy policy, Executor runExecutor, Materializer mat,
                    String streamDispatcher) {
        this.name = name;
        this.model = model;
        this.policy = policy;
        this.runExecutor = runExecutor;
        this.scratches = new java.util.concurrent.ArrayBlockingQueue<>(policy.concurrentRuns());
        for (int i = 0; i < policy.concurrentRuns(); i++) {
            scratches.add(new RunScratch());
        }
        boolean batchable = model.signature().batchable();
        long maxRows = policy.maxBatch();
        Source<Item, Pair<BoundedSourceQueue<Item>, UniqueKillSwitch>> source =
                Source.<Item>queue(policy.queueCapacity()).viaMat(KillSwitches.single(), Keep.both());
        Source<List<List<Item>>, Pair<BoundedSourceQueue<Item>, UniqueKillSwitch>> batches;
        if (policy.maxDelay().isZero()) {
            batches = source
                    .batchWeighted(maxRows, item -> batchable ? (long) item.prepared.rows() : maxRows,
                            PendingBatch::new, PendingBatch::add)
                    .map(PendingBatch::runs);
        } else {
            batches = source
                    .groupedWeightedWithin(maxRows, item -> batchable ? (long) item.prepared.rows() : maxRows,
                            policy.maxDelay())
                    .map(group -> {
                        PendingBatch b = new PendingBatch(group.get(0));
                        for (int i = 1; i < group.size(); i++) {
                            b.add(group.get(i));
                        }
                        return b.runs();
                    });
        }
        Pair<Pair<BoundedSourceQueue<Item>, UniqueKillSwitch>, CompletionStage<Done>> mat2 = batches
                .mapConcat(runs -> runs)
                .mapAsyncUnordered(policy.concurrentRuns(),
                        run -> CompletableFuture.runAsync(() -> execute(run), runExecutor)
                                .handle((ok, err) -> Done.getInstance()))
                .withAttributes(ActorAttributes.withSupervisionStrategy(e -> {
                    log.error("batcher {} stage failed; the stage resumes", name, e);
                    return Supervision.resumingDecider().apply(e);
                }))
                .toMat(Sink.ignore(), Keep.both())
                .addAttributes(streamDispatcher == null ? Attributes.none()
                        : ActorAttributes.dispatcher(streamDispatcher))
                .run(mat);
        this.queue = mat2.first().first();
        this.killSwitch = mat2.first().second();
        this.done = mat2.second().whenComplete((d, e) -> failOutstanding(
                ErrorKind.UNAVAILABLE, "replica " + name + " stopped before running the request"));
    }

    /**
     * Starts a batcher for {@code model}.
     *
     * @param name for logs, e.g. the replica's entity id
     * @param runExecutor where blocking model runs execute
     */
    public static Batcher start(String name, LoadedModel model, BatchPolicy policy, Executor runExecutor,
                                Materializer mat) {
        return new Batcher(name, model, policy, runExecutor, mat, null);
    }

    /**
     * Starts a batcher whose stream (batch formation) runs on the Pekko dispatcher
     * {@code streamDispatcher} of the materializer's system.
     *
     * <p>Given the dispatcher whose threads also execute the runs, the thread that finishes
     * a run forms and starts the next batch itself: no wake-up of another thread between
     * two runs. That cost dominates a small model's run on a small machine (measured in
     * BENCHMARKS.md). Nothing in the stream blocks, so a single-thread dispatcher shared
     * with the runs still makes progress; the stream waits for a free thread like a run.
     *
     * @param streamDispatcher a dispatcher id, or null for the materializer's default
     */
    public static Batcher start(String name, LoadedModel model, BatchPolicy policy, Executor runExecutor,
                                Materializer mat, String streamDispatcher) {
        return new Batcher(name, model, policy, runExecutor, mat, streamDispatcher);
    }

    public BatchPolicy policy() {
        return policy;
    }

    public LoadedModel model() {
        return model;
    }

    /** The live counters and histograms (for the metrics endpoint). */
    public BatcherStats liveStats() {
        return stats;
    }

    public BatcherStats.Snapshot stats() {
        return stats.snapshot();
    }

    /** Requests accepted and not yet answered. */
    public int outstanding() {
        return outstanding.size();
    }

    /**
     * Queues a validated request. Never blocks: a full queue answers {@code OVERLOADED}
     * and a draining batcher {@code UNAVAILABLE} through {@code sink} before returning.
     *
     * @param deadlineNanos the {@link System#nanoTime()} after which the request is not run
     */
    public void submit(Prepared prepared, long deadlineNanos, ResultSink sink) {
        Item item = new Item(prepared, deadlineNanos, sink);
        stats.submitted.increment();
        outstanding.add(item);
        long limit = policy.maxQueueDelay().toNanos();
        // Rows that fit in the next batch of each run slot start with the next runs; rows beyond
        // them wait whole rounds of runs (each slot running a full batch) first. A round is the
        // unit of waiting: a request behind one more row than the next round holds waits a full
        // round, however few rows are queued in it.
        long round = (long) policy.concurrentRuns() * policy.maxBatch();
        long roundsAhead = queuedRows.get() / round;
        double perRow = nanosPerRow;
        double waitNanos = roundsAhead * policy.maxBatch() * perRow;
        // the estimate needs warm runs: the first ones (JIT, ONNX Runtime's first allocations) are
        // many times slower and would refuse requests a warm replica serves easily
        boolean warm = stats.runs.sum() >= WARM_RUNS;
        if (limit > 0 && warm && roundsAhead > 0 && perRow > 0 && waitNanos > limit) {
            stats.overloaded.increment();
            item.queued.set(false); // never counted in the queued work
            item.fail(ErrorKind.OVERLOADED, "replica " + name + " is overloaded: about "
                    + Math.round(waitNanos / 1e6) + " ms of work is queued ahead of the next runs (limit "
                    + policy.maxQueueDelay().toMillis() + " ms)");
            return;
        }
        queuedRows.addAndGet(item.prepared.rows());
        QueueOfferResult r = queue.offer(item);
        if (r.isEnqueued()) {
            if (done.toCompletableFuture().isDone()) {
                // the stream ended without closing its queue (its materializer stopped): nothing will
                // take this request, and the termination has already answered those before it
                item.fail(ErrorKind.UNAVAILABLE, "replica " + name + " was stopped");
            }
            return;
        }
        item.dequeue();
        if (r == QueueOfferResult.dropped()) {
            stats.overloaded.increment();
            item.fail(ErrorKind.OVERLOADED, "replica " + name + " is overloaded: its queue of "
                    + policy.queueCapacity() + " requests is full");
        } else {
            item.fail(ErrorKind.UNAVAILABLE, "replica " + name + " is stopping");
        }
    }

    /**
     * Stops accepting requests and completes once every accepted request is answered.
     */
    public CompletionStage<Done> drain() {
        closeQueue();
        return done;
    }

    private void closeQueue() {
        if (closed.compareAndSet(false, true)) {
            try {
                queue.complete();
            } catch (IllegalStateException streamEnded) {
                // the stream ended first; its termination has already answered what was outstanding
                log.debug("batcher {} had already stopped", name);
            }
        }
    }

    /** Stops at once; requests not yet run are answered {@code UNAVAILABLE}. */
    public void abort() {
        closeQueue();
        killSwitch.shutdown();
        failOutstanding(ErrorKind.UNAVAILABLE, "replica " + name + " was stopped");
    }

    public CompletionStage<Done> whenTerminated() {
        return done;
    }

    private void failOutstanding(ErrorKind kind, String message) {
        for (Item item : outstanding) {
            item.fail(kind, message);
        }
    }

    /** Runs one group of requests that share a batch key; answers every one of them. */
    private void execute(List<Item> run) {
        try {
            long now = System.nanoTime();
            List<Item> live = new ArrayList<>(run.size());
            for (Item item : run) {
                item.dequeue();
                if (item.isDone()) {
                    continue;
                }
                if (now - item.deadlineNanos > 0) {
                    stats.expired.increment();
                    item.fail(ErrorKind.DEADLINE_EXCEEDED, "the deadline passed after "
                            + TimeUnit.NANOSECONDS.toMillis(now - item.enqueuedNanos) + " ms in the queue of replica "
                            + name);
                } else {
                    live.add(item);
                }
            }
            if (live.isEmpty()) {
                return;
            }
            try {
                runTogether(live, now);
            } catch (InferenceException e) {
                if (live.size() == 1) {
                    live.get(0).fail(e.kind(), e.getMessage());
                } else {
                    log.debug("batch of {} failed in replica {} ({}); running its requests one by one",
                            live.size(), name, e.getMessage());
                    for (Item item : live) {
                        stats.retriedAlone.increment();
                        runAlone(item);
                    }
                }
            }
        } catch (RuntimeException | Error e) {
            log.error("unexpected failure running a batch in replica {}", name, e);
            for (Item item : run) {
                item.fail(ErrorKind.INTERNAL, "internal error in replica " + name + ": " + e);
            }
        }
    }

    private void runAlone(Item item) {
        try {
            runTogether(List.of(item), System.nanoTime());
        } catch (InferenceException e) {
            item.fail(e.kind(), e.getMessage());
        }
    }

    private void runTogether(List<Item> items, long startNanos) {
        List<List<NamedTensor>> inputs = new ArrayList<>(items.size());
        int[] rows = new int[items.size()];
        Set<String> wanted = new HashSet<>();
        boolean all = false;
        int totalRows = 0;
        for (int i = 0; i < items.size(); i++) {
            Prepared p = items.get(i).prepared;
            inputs.add(p.inputs());
            rows[i] = p.rows();
            totalRows += p.rows();
            if (p.outputs().isEmpty()) {
                all = true;
            } else {
                wanted.addAll(p.outputs());
            }
        }
        RunScratch scratch = scratches.poll();
        List<List<NamedTensor>> perRequest;
        try {
            perRequest = model.runBatch(inputs, rows, all ? Set.of() : wanted, scratch != null ? scratch : new RunScratch());
        } finally {
            if (scratch != null) {
                scratches.offer(scratch);
            }
        }
        long runNanos = System.nanoTime() - startNanos;
        stats.runs.increment();
        stats.batchedRows.add(totalRows);
        stats.batchRows.observe(totalRows);
        stats.runTime.observe(runNanos / 1e9);
        if (totalRows > 0) {
            double perRow = (double) runNanos / totalRows;
            double previous = nanosPerRow;
            // until warm, keep only the latest run: the first runs are far slower and would linger
            nanosPerRow = previous == 0 || stats.runs.sum() <= WARM_RUNS ? perRow : 0.8 * previous + 0.2 * perRow;
        }
        stats.batchedRequests.add(items.size());
        double[] waits = new double[items.size()];
        for (int i = 0; i < waits.length; i++) {
            waits[i] = (startNanos - items.get(i).enqueuedNanos) / 1e9;
        }
        stats.queueWait.observeAll(waits); // once per run: the run threads share these counters
        for (int i = 0; i < items.size(); i++) {
            Item item = items.get(i);
            item.succeed(select(perRequest.get(i), item.prepared.outputs()), totalRows,
                    startNanos - item.enqueuedNanos);
        }
    }

    private static List<NamedTensor> select(List<NamedTensor> outputs, List<String> requested) {
        if (requested.isEmpty() || requested.size() == outputs.size()) {
            return outputs;
        }
        List<NamedTensor> out = new ArrayList<>(requested.size());
        for (NamedTensor t : outputs) {
            if (requested.contains(t.name())) {
                out.add(t);
            }
        }
        return out;
    }

    /** One queued request; answered at most once whoever races to answer it. */
    private final class Item {
        final Prepared prepared;
        final long deadlineNanos;
        final long enqueuedNanos = System.nanoTime();
        final ResultSink sink;
        final AtomicBoolean answered = new AtomicBoolean();
        final AtomicBoolean queued = new AtomicBoolean(true);

        Item(Prepared prepared, long deadlineNanos, ResultSink sink) {
            this.prepared = prepared;
            this.deadlineNanos = deadlineNanos;
            this.sink = sink;
        }

        /** Takes this request's rows off the queued-work estimate, once. */
        void dequeue() {
            if (queued.compareAndSet(true, false)) {
                queuedRows.addAndGet(-prepared.rows());
            }
        }

        boolean isDone() {
            return answered.get();
        }

        void succeed(List<NamedTensor> outputs, int batchRows, long queueNanos) {
            if (answered.compareAndSet(false, true)) {
                outstanding.remove(this);
                stats.succeeded.increment();
                try {
                    sink.success(outputs, batchRows, queueNanos);
                } catch (RuntimeException e) {
                    log.error("the result sink of a request to replica {} failed", name, e);
                }
            }
        }

        void fail(ErrorKind kind, String message) {
            if (answered.compareAndSet(false, true)) {
                dequeue();
                outstanding.remove(this);
                stats.failed.increment();
                try {
                    sink.failure(new InferenceError(kind, message));
                } catch (RuntimeException e) {
                    log.error("the result sink of a request to replica {} failed", name, e);
                }
            }
        }
    }

    /** Requests gathered while the runs were busy, grouped by batch key in arrival order. */
    private static final class PendingBatch {
        private final Map<String, List<Item>> byKey = new LinkedHashMap<>();

        PendingBatch(Item first) {
            add(first);
        }

        PendingBatch add(Item item) {
            // 16: the default max-batch, so most runs fill their list without growing it
            byKey.computeIfAbsent(item.prepared.batchKey(), k -> new ArrayList<>(16)).add(item);
            return this;
        }

        List<List<Item>> runs() {
            return new ArrayList<>(byKey.values());
        }
    }
}
