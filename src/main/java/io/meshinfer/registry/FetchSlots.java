package io.meshinfer.registry;

import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/**
 * At most {@code slots} asynchronous tasks running at once; later ones wait in arrival
 * order. The wait list needs no bound of its own: every waiter is one distinct artifact
 * a replica load or the scrubber is blocked on, and those are bounded by the blocking
 * executor's threads and the catalog. Thread-safe.
 */
final class FetchSlots {
    private final int slots;
    private final ArrayDeque<Runnable> waiting = new ArrayDeque<>();
    private int running;

    FetchSlots(int slots) {
        this.slots = slots;
    }

    /** Runs {@code task} once a slot is free; its slot is freed when its stage completes. */
    <T> CompletionStage<T> submit(Supplier<CompletionStage<T>> task) {
        CompletableFuture<T> result = new CompletableFuture<>();
        Runnable start = () -> {
            CompletionStage<T> stage;
            try {
                stage = task.get();
            } catch (RuntimeException e) {
                stage = CompletableFuture.failedFuture(e);
            }
            stage.whenComplete((v, e) -> {
                release();
                if (e != null) {
                    result.completeExceptionally(e);
                } else {
                    result.complete(v);
                }
            });
        };
        boolean now;
        synchronized (this) {
            now = running < slots;
            if (now) {
                running++;
            } else {
                waiting.add(start);
            }
        }
        if (now) {
            start.run();
        }
        return result;
    }

    /** Tasks waiting for a slot. */
    synchronized int waiting() {
        return waiting.size();
    }

    private void release() {
        Runnable next;
        synchronized (this) {
            next = waiting.poll();
            if (next == null) {
                running--;
            }
        }
        if (next != null) {
            next.run(); // takes over the freed slot
        }
    }
}
