package io.meshinfer.api;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;

/**
 * Continuations that run on the thread completing a stage, for stages Pekko hands out.
 *
 * <p>Pekko's Java API ({@code AskPattern.ask}, {@code EntityRef.ask}, stream materialized
 * values) returns Scala's {@code CompletableFuture} subclass, whose {@code thenApply},
 * {@code whenComplete}, {@code handle} and the like are their {@code ...Async} forms: every
 * continuation goes to {@code CompletableFuture}'s default executor. On a machine of two
 * cores that executor is not the common pool but a new thread per task (the common pool's
 * parallelism is 1 there), so each reply chained that way started a thread; with more cores
 * it is a hand-off to the common pool. {@link #inline} gives a plain future completed on the
 * thread that completes {@code stage}, whose continuations then behave as the JDK documents.
 * {@link #later} is the same for {@code CompletableFuture.delayedExecutor}, whose one-argument
 * form runs each task on that default executor too.
 *
 * <p>{@link #onDone} is {@code whenComplete} for a continuation run for its effects alone.
 * {@code whenComplete} returns a stage, and a failed stage passes its failure to that stage
 * wrapped in a new {@code CompletionException}, whose stack trace is filled in whether or not
 * anyone reads it. On the path of a refused request that was nearly half of the refusal's CPU.
 */
public final class Stages {
    private static final Executor CALLER = Runnable::run;

    private Stages() {
    }

    /** A plain future with {@code stage}'s result or failure, completed on the thread completing {@code stage}. */
    public static <T> CompletableFuture<T> inline(CompletionStage<T> stage) {
        CompletableFuture<T> out = new CompletableFuture<>();
        // the *Async form with an executor is the one that Scala's future does not redirect;
        // handle, not whenComplete, so that a failure is not wrapped for a stage nobody reads
        stage.handleAsync((value, error) -> {
            if (error != null) {
                out.completeExceptionally(error);
            } else {
                out.complete(value);
            }
            return null;
        }, CALLER);
        return out;
    }

    /**
     * Runs {@code action} with {@code stage}'s result or failure once it completes, on the
     * completing thread (or this one, if it has completed), and makes no stage that holds the
     * failure. {@code action} must not throw: nothing would see it. A stage from Pekko goes
     * through {@link #inline} first, or its {@code handle} runs on the default executor.
     */
    public static <T> void onDone(CompletionStage<T> stage, BiConsumer<? super T, ? super Throwable> action) {
        stage.handle((value, error) -> {
            action.accept(value, error);
            return null;
        });
    }

    /**
     * Runs {@code task} after {@code nanos} on the JDK's delay thread, which it shares: the task
     * must not block (a retry that routes a request and returns is what this is for).
     */
    public static void later(long nanos, Runnable task) {
        CompletableFuture.delayedExecutor(nanos, TimeUnit.NANOSECONDS, CALLER).execute(task);
    }
}
