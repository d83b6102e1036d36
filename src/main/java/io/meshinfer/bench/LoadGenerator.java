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
 * A warm-up period runs first and is not recorded: a fixed time, or ({@link WarmUp#untilStable})
 * at least that long and then until throughput settles. Every request sent gets exactly one
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

    /**
     * How long each point warms up before it is measured: {@code minimum}; and, when
     * {@code tolerance} is positive, then on in windows of {@code window} until the throughputs
     * of the last {@link #STABLE_WINDOWS} windows each lie within {@code tolerance} of their
     * mean (as perf_analyzer's stability windows do) and no longer rise (the last above the first
     * by at most half the tolerance), or until {@code maximum}.
     */
    public record WarmUp(Duration minimum, double tolerance, Duration window, Duration maximum) {
        public static final int STABLE_WINDOWS = 3;

        public WarmUp {
            if (minimum.isNegative() || maximum.compareTo(minimum) < 0 || tolerance < 0
                    || (tolerance > 0 && (window.isNegative() || window.isZero()))) {
                throw new IllegalArgumentException("warm-up: need 0 <= minimum <= maximum, tolerance >= 0 and,"
                        + " with a tolerance, a positive window");
            }
        }

        /** Exactly {@code d}. */
        public static WarmUp fixed(Duration d) {
            return new WarmUp(d, 0, Duration.ZERO, d);
        }

        /**
         * At least {@code minimum}, then until throughput settles within {@code tolerance},
         * at most {@code maximum}.
         */
        public static WarmUp untilStable(Duration minimum, double tolerance, Duration window, Duration maximum) {
            return new WarmUp(minimum, tolerance, window, maximum);
        }

        boolean adaptive() {
            return tolerance > 0;
        }

        /**
         * Whether the last {@link #STABLE_WINDOWS} window throughputs each lie within the tolerance of
         * their mean, and the last is not above the first by more than half of it.
         */
        boolean settled(List<Double> rates) {
            if (rates.size() < STABLE_WINDOWS) {
                return false;
            }
            List<Double> last = rates.subList(rates.size() - STABLE_WINDOWS, rates.size());
            double mean = last.stream().mapToDouble(Double::doubleValue).average().orElse(0);
            // and not still rising (a JIT warming a slow path lifts throughput a few percent a window)
            return mean > 0 && last.stream().allMatch(r -> Math.abs(r - mean) <= tolerance * mean)
                    && last.get(last.size() - 1) - last.get(0) <= tolerance / 2 * mean;
        }
    }

    /**
     * Watches an adaptive warm-up from the generator's own loop and starts the measured window
     * once the warm-up has settled (or at its maximum, when the window starts by itself).
     */
    private static final class Settler {
        private final WarmUp warmup;
        private final Window w;
        private final Duration duration;
        private final List<Double> rates = new java.util.ArrayList<>();
        private long windowStart;
        private long answeredAtWindowStart;
        private boolean done;

        Settler(WarmUp warmup, Window w, Duration duration) {
            this.warmup = warmup;
            this.w = w;
            this.duration = duration;
            this.windowStart = w.createdNanos;
            this.done = !warmup.adaptive();
        }

        /** Called often (every few hundred milliseconds at most) while the point runs. */
        void tick(long now) {
            if (done) {
                return;
            }
            if (now - w.startNanos >= 0) {
                done = true; // the maximum passed: the window started by itself
                return;
            }
            if (now - windowStart < warmup.window().toNanos()) {
                return;
            }
            long answered = w.warmupAnswered.sum();
            rates.add((answered - answeredAtWindowStart) / ((now - windowStart) / 1e9));
            if (rates.size() > WarmUp.STABLE_WINDOWS) {
                rates.remove(0);
            }
            windowStart = now;
            answeredAtWindowStart = answered;
            if (now - w.createdNanos >= warmup.minimum().toNanos() && warmup.settled(rates)) {
                w.begin(now, duration);
                done = true;
            }
        }
    }

    /** What one measured window produced, and how long its warm-up took. */
    public record Result(String mode, double load, long sent, long ok, Map<String, Long> errors, double seconds,
                         Histogram latencyMicros, double meanBatchRows, double processCpuShare,
                         Histogram failureLatencyMicros, double warmupSeconds) {
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
        /** Successful answers to warm-up requests, for the throughput of each warm-up window. */
        final LongAdder warmupAnswered = new LongAdder();
        final long createdNanos = System.nanoTime();
        volatile long startNanos;
        volatile long endNanos;

        Window(WarmUp warmup, Duration duration) {
            startNanos = createdNanos + (warmup.adaptive() ? warmup.maximum() : warmup.minimum()).toNanos();
            endNanos = startNanos + duration.toNanos();
        }

        boolean measuring(long now) {
            return now - startNanos >= 0 && now - endNanos < 0;
        }

        /** Starts the measured window now (a warm-up that settled before its maximum). */
        void begin(long now, Duration duration) {
            endNanos = now + duration.toNanos();
            startNanos = now;
        }

        /**
         * Records the answer to a request, measured or not as decided once when it was sent (the
         * window may start while it is in flight).
         */
        void record(boolean measured, long intendedAt, Sample s) {
            if (!measured) {
                if (s.ok()) {
                    warmupAnswered.increment();
                }
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
                    cpu, rejectLatency.getIntervalHistogram(), (startNanos - createdNanos) / 1e9);
        }
    }

    /** {@link #closedLoop(int, WarmUp, Duration, LongConsumer)} with a fixed warm-up. */
    public Result closedLoop(int concurrency, Duration warmup, Duration duration, LongConsumer progress)
            throws InterruptedException {
        return closedLoop(concurrency, WarmUp.fixed(warmup), duration, progress);
    }

    /**
     * Keeps {@code concurrency} requests outstanding through the warm-up and then for {@code duration}.
     *
     * @param progress called about every 200 ms with the measured requests answered so far
     */
    public Result closedLoop(int concurrency, WarmUp warmup, Duration duration, LongConsumer progress)
            throws InterruptedException {
        Window w = new Window(warmup, duration);
        Settler settler = new Settler(warmup, w, duration);
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
                settler.tick(System.nanoTime());
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
                boolean measured = w.measuring(now);
                if (measured) {
                    w.sent.incrementAndGet();
                }
                List<NamedTensor> in = inputs.get((int) (next.getAndIncrement() % inputs.size()));
                var f = target.send(in, timeoutMillis).toCompletableFuture();
                if (f.isDone() && depth < 64) {
                    w.record(measured, now, f.join()); // answered at once (e.g. refused): loop, don't recurse deeply
                    depth++;
                    continue;
                }
                java.util.function.Consumer<Sample> onAnswer = s -> {
                    w.record(measured, now, s);
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

    /** {@link #openLoop(double, WarmUp, Duration, int, LongConsumer)} with a fixed warm-up. */
    public Result openLoop(double ratePerSecond, Duration warmup, Duration duration, int maxOutstanding,
                           LongConsumer progress) throws InterruptedException {
        return openLoop(ratePerSecond, WarmUp.fixed(warmup), duration, maxOutstanding, progress);
    }

    /**
     * Sends at {@code ratePerSecond} with Poisson arrivals through the warm-up and then for
     * {@code duration}, with at most {@code maxOutstanding} requests in flight.
     */
    public Result openLoop(double ratePerSecond, WarmUp warmup, Duration duration, int maxOutstanding,
                           LongConsumer progress) throws InterruptedException {
        Window w = new Window(warmup, duration);
        Settler settler = new Settler(warmup, w, duration);
        long t0 = w.createdNanos;
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
            boolean measured = w.measuring(at);
            if (measured) {
                w.sent.incrementAndGet();
            }
            if (outstanding.get() >= maxOutstanding) {
                w.record(measured, at, Sample.failure("GENERATOR_LIMIT"));
            } else {
                outstanding.incrementAndGet();
                List<NamedTensor> in = inputs.get((int) (i++ % inputs.size()));
                target.send(in, timeoutMillis).thenAccept(s -> {
                    outstanding.decrementAndGet();
                    w.record(measured, at, s);
                });
            }
            intended += (long) (-Math.log(1 - ThreadLocalRandom.current().nextDouble()) * meanGapNanos);
            if (System.nanoTime() - lastProgress > 200_000_000L) {
                lastProgress = System.nanoTime();
                settler.tick(lastProgress);
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
