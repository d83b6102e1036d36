package io.meshinfer.batching;

import com.typesafe.config.Config;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.dispatch.DispatcherPrerequisites;
import org.apache.pekko.dispatch.ExecutorServiceConfigurator;
import org.apache.pekko.dispatch.ExecutorServiceFactory;

/**
 * The executor of the runtime dispatcher: a fixed pool whose idle threads spin for a
 * short while ({@code spin}) before parking. On a small machine, waking a parked thread
 * for the next batch costs more than the run of a small model; a spin as long as a run
 * keeps the thread hot between back-to-back batches and costs nothing once the queue
 * stays empty. Configured under {@code meshinfer.runtime-dispatcher.spinning-executor}.
 */
public final class SpinningExecutorConfigurator extends ExecutorServiceConfigurator {
    private final int threads;
    private final long spinNanos;

    public SpinningExecutorConfigurator(Config config, DispatcherPrerequisites prerequisites) {
        super(config, prerequisites);
        Config c = config.getConfig("spinning-executor");
        this.threads = c.getInt("pool-size");
        this.spinNanos = c.getDuration("spin", TimeUnit.NANOSECONDS);
        if (threads < 1) {
            throw new IllegalArgumentException("spinning-executor.pool-size must be at least 1");
        }
    }

    @Override
    public ExecutorServiceFactory createExecutorServiceFactory(String id, ThreadFactory threadFactory) {
        return () -> {
            ThreadPoolExecutor pool = new ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS,
                    new SpinningQueue(spinNanos), threadFactory);
            pool.prestartAllCoreThreads();
            return (ExecutorService) pool;
        };
    }

    /**
     * A task queue whose {@code take} polls for up to {@code spinNanos} before blocking.
     * Unbounded in type, bounded in use: the batchers submit at most their
     * {@code concurrent-runs} runs each, and their streams one task each.
     */
    static final class SpinningQueue extends LinkedBlockingQueue<Runnable> {
        private final long spinNanos;

        SpinningQueue(long spinNanos) {
            this.spinNanos = spinNanos;
        }

        @Override
        public Runnable take() throws InterruptedException {
            long end = System.nanoTime() + spinNanos;
            do {
                Runnable r = poll();
                if (r != null) {
                    return r;
                }
                Thread.onSpinWait();
            } while (System.nanoTime() - end < 0);
            return super.take();
        }
    }
}
