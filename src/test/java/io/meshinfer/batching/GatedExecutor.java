package io.meshinfer.batching;

import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A run executor whose tasks wait for {@link #open()} before they run: while it is closed,
 * the batcher's run slots are busy, so the tests decide exactly which requests are queued
 * together. Tasks give up waiting after a minute, so a failed test cannot hang the pool.
 */
final class GatedExecutor implements Executor {
    private final Executor delegate;
    private final CountDownLatch gate = new CountDownLatch(1);
    private final AtomicInteger dispatched = new AtomicInteger();

    GatedExecutor(Executor delegate) {
        this.delegate = delegate;
    }

    @Override
    public void execute(Runnable task) {
        dispatched.incrementAndGet();
        delegate.execute(() -> {
            try {
                gate.await(1, TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            task.run();
        });
    }

    /** Lets every waiting and later task run. */
    void open() {
        gate.countDown();
    }

    /** How many runs the batcher has handed over so far. */
    int dispatched() {
        return dispatched.get();
    }

    /** Waits until the batcher has handed over {@code n} runs (which then wait at the gate). */
    void awaitDispatched(int n) {
        await().atMost(Duration.ofSeconds(10)).until(() -> dispatched.get() >= n);
    }
}
