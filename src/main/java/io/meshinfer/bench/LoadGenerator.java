package io.meshinfer.bench;

import io.meshinfer.tensor.NamedTensor;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongConsumer;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Drives a {@link BenchTarget} and measures it, like Triton's perf_analyzer.
 *
 * <ul>
 *   <li>Closed loop: {@code concurrency} requests are kept outstanding; each answer sends
 *       the next. Latency is from send to answer.</li>
 *   <li>Open loop: requests are sent at a target rate with Poisson (exponential)
 *       inter-arrival times, whether or not earlier ones were answered; latency is measured
 *       from the <em>intended</em> send time, so a stalled server cannot hide queueing
 *       (coordinated omission). Outstanding requests are capped; sends beyond the cap are
 *       counted as {@code GENERATOR_LIMIT} failures rather than queued without bound.</li>
 * </ul>
 * A warm-up period runs first and is not recorded. Every request sent gets exactly one
 * recorded outcome; the generator waits (bounded) for the stragglers of the measured
 * window.
 */
public final class LoadGenerator {
    private final BenchTarget target;
    private final List<List<NamedTensor>> inputs;
    private final long timeoutMillis;

    /**
     * @param inputs request inputs, cycled through
     * @param timeoutMillis each request's budget
     */
    public LoadGenerator(BenchTarget target, List<List<NamedTensor>> inputs, long timeoutMillis) {
        this.target = target;
        this.inputs = List.copyOf(inputs);
        this.timeoutMillis = timeoutMillis;
    }

    /** What one measured window produced. */
    public record Result(String mode, double load, long sent, long ok, Map<String, Long> errors, double seconds,
                         Histogram latencyMicros, double meanBatchRows, double processCpuShare,
                         Histogram failureLatencyMicros) {
        public double throughput() {
            return ok / seconds;
        }

        public long failed() {
            return errors.values().stream().mapToLong(Long::longValue).sum();
        }

        public double percentileMillis(double p) {
            return latencyMicros.getTotalCount() == 0 ? Double.NaN : latencyMicros.getValueAtPercentile(p) / 1000.0;
        }

        /** Percentile of the time to a failure answer (e.g. OVERLOADED), from the intended send time. */
        public double failurePercentileMillis(double p) {
            return failureLatencyMicros.getTotalCount() == 0 ? Double.NaN
                    : failureLatencyMicros.getValueAtPercentile(p) / 1000.0;
        }
    }

    /** Progress reports: the number of requests answered so far in the measured window. */
    private final class Window {
        final Recorder latency = new Recorder(3);
        final Recorder rejectLatency = new Recorder(3);
        final LongAdder ok = new LongAdder();
        final LongAdder rows = new LongAdder();
        final LongAdder rowSamples = new LongAdder();
        final Map<String, LongAdder> errors = new ConcurrentHashMap<>();
        final AtomicLong sent = new AtomicLong();
        final AtomicLong answered = new AtomicLong();
        volatile long startNanos;
        volatile long endNanos;

        boolean measuring(long now) {
            return now - startNanos >= 0 && now - endNanos < 0;
        }

        void record(long sentAt, long intendedAt, Sample s) {
            if (!measuring(sentAt)) {
                return;
            }
            answered.incrementAndGet();
            if (s.ok()) {
                ok.increment();
                latency.recordValue(Math.max(1, (System.nanoTime() - intendedAt) / 1000));
                if (s.batchRows() > 0) {
                    rows.add(s.batchRows());
                    rowSamples.increment();
                }
            } else {
                errors.computeIfAbsent(s.error(), k -> new LongAdder()).increment();
                rejectLatency.recordValue(Math.max(1, (System.nanoTime() - intendedAt) / 1000));
            }
        }

        Result result(String mode, double load, double cpu) {
            Map<String, Long> e = new TreeMap<>();
            errors.forEach((k, v) -> e.put(k, v.sum()));
            long unanswered = sent.get() - answered.get();
            if (unanswered > 0) {
                e.put("UNANSWERED", unanswered);
            }
            return new Result(mode, load, sent.get(), ok.sum(), e, (endNanos - startNanos) / 1e9,
                    latency.getIntervalHistogram(), rowSamples.sum() == 0 ? 0 : (double) rows.sum() / rowSamples.sum(),
                    cpu, rejectLatency.getIntervalHistogram());
        }
    }

    /**
     * Keeps {@code concurrency} requests outstanding for {@code warmup + duration}.
     *
     * @param progress called about every 200 ms with the measured requests answered so far
     */
    public Result closedLoop(int concurrency, Duration warmup, Duration duration, LongConsumer progress)
            throws InterruptedException {
        Window w = new Window();
        long t0 = System.nanoTime();
        w.startNanos = t0 + warmup.toNanos();
        w.endNanos = w.startNanos + duration.toNanos();
        CountDownLatch stopped = new CountDownLatch(concurrency);
        AtomicLong next = new AtomicLong();
        CpuMeter cpu = new CpuMeter();
        // each worker has at most one continuation waiting here: the queue holds them all
        ThreadPoolExecutor continuations = new ThreadPoolExecutor(2, 2, 30, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(concurrency + 1), r -> {
                    Thread t = new Thread(r, "bench-continuation");
                    t.setDaemon(true);
                    return t;
                });
        try {
            for (int c = 0; c < concurrency; c++) {
                new Worker(w, next, stopped, continuations).sendNext();
            }
            while (!stopped.await(200, TimeUnit.MILLISECONDS)) {
                progress.accept(w.answered.get());
                if (System.nanoTime() - w.endNanos > TimeUnit.MILLISECONDS.toNanos(timeoutMillis + 5000)) {
                    break; // stragglers beyond every deadline are counted unanswered
                }
                if (System.nanoTime() - w.endNanos > 0) {
                    cpu.stop();
                }
            }
        } finally {
            continuations.shutdown();
        }
        cpu.stop();
        return w.result("closed", concurrency, cpu.share(w.startNanos, w.endNanos));
    }

    /** One closed-loop virtual user: sends, waits for the answer, sends again. */
    private final class Worker {
        private final Window w;
        private final AtomicLong next;
        private final CountDownLatch stopped;
        private final Executor continuations;
        private int depth;

        Worker(Window w, AtomicLong next, CountDownLatch stopped, Executor continuations) {
            this.w = w;
            this.next = next;
            this.stopped = stopped;
            this.continuations = continuations;
        }

        void sendNext() {
            while (true) {
                long now = System.nanoTime();
                if (now - w.endNanos >= 0) {
                    stopped.countDown();
                    return;
                }
                if (w.measuring(now)) {
                    w.sent.incrementAndGet();
                }
                List<NamedTensor> in = inputs.get((int) (next.getAndIncrement() % inputs.size()));
                var f = target.send(in, timeoutMillis).toCompletableFuture();
                if (f.isDone() && depth < 64) {
                    w.record(now, now, f.join()); // answered at once (e.g. refused): loop, don't recurse deeply
                    depth++;
                    continue;
                }
                java.util.function.Consumer<Sample> onAnswer = s -> {
                    w.record(now, now, s);
                    sendNext();
                };
                if (f.isDone()) {
                    // many immediate answers in a row: continue on another thread, so that neither the
                    // thread that started the loop nor one of the target's own threads is kept. Not
                    // the common pool: on two cores CompletableFuture starts a thread per task there
                    depth = 0;
                    f.thenAcceptAsync(onAnswer, continuations);
                } else {
                    depth = 0;
                    f.thenAccept(onAnswer);
                }
                return;
            }
        }
    }

    /**
     * Sends at {@code ratePerSecond} with Poisson arrivals for {@code warmup + duration},
     * with at most {@code maxOutstanding} requests in flight.
     */
    public Result openLoop(double ratePerSecond, Duration warmup, Duration duration, int maxOutstanding,
                           LongConsumer progress) throws InterruptedException {
        Window w = new Window();
        long t0 = System.nanoTime();
        w.startNanos = t0 + warmup.toNanos();
        w.endNanos = w.startNanos + duration.toNanos();
        AtomicLong outstanding = new AtomicLong();
        CpuMeter cpu = new CpuMeter();
        double meanGapNanos = 1e9 / ratePerSecond;
        long intended = t0;
        long i = 0;
        long lastProgress = t0;
        while (intended - w.endNanos < 0) {
            long wait = intended - System.nanoTime();
            if (wait > 50_000) {
                LockSupport.parkNanos(wait - 20_000);
                continue;
            }
            while (System.nanoTime() - intended < 0) {
                Thread.onSpinWait();
            }
            long at = intended;
            if (w.measuring(at)) {
                w.sent.incrementAndGet();
            }
            if (outstanding.get() >= maxOutstanding) {
                w.record(at, at, Sample.failure("GENERATOR_LIMIT"));
            } else {
                outstanding.incrementAndGet();
                List<NamedTensor> in = inputs.get((int) (i++ % inputs.size()));
                target.send(in, timeoutMillis).thenAccept(s -> {
                    outstanding.decrementAndGet();
                    w.record(at, at, s);
                });
            }
            intended += (long) (-Math.log(1 - ThreadLocalRandom.current().nextDouble()) * meanGapNanos);
            if (System.nanoTime() - lastProgress > 200_000_000L) {
                lastProgress = System.nanoTime();
                progress.accept(w.answered.get());
            }
        }
        cpu.stop();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis + 5000);
        while (w.answered.get() < w.sent.get() && System.nanoTime() - deadline < 0) {
            progress.accept(w.answered.get());
            TimeUnit.MILLISECONDS.sleep(50); // waiting for stragglers of the measured window
        }
        return w.result("open", ratePerSecond, cpu.share(w.startNanos, w.endNanos));
    }

    /** This process's CPU time over a window, as a share of all cores. */
    private static final class CpuMeter {
        private final com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        private final long startCpu = os.getProcessCpuTime();
        private final long startWall = System.nanoTime();
        private long stopCpu = -1;
        private long stopWall;

        void stop() {
            if (stopCpu < 0) {
                stopCpu = os.getProcessCpuTime();
                stopWall = System.nanoTime();
            }
        }

        double share(long from, long to) {
            long wall = stopWall - startWall;
            return wall <= 0 ? 0 : (double) (stopCpu - startCpu) / wall / Runtime.getRuntime().availableProcessors();
        }
    }
}
