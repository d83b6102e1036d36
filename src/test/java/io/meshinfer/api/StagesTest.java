package io.meshinfer.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import scala.concurrent.Promise;
import scala.jdk.javaapi.FutureConverters;

class StagesTest {
    private static final ActorTestKit TESTKIT = ActorTestKit.create("stages");
    private static final long WAIT_SECONDS = 10;

    @AfterAll
    static void shutDown() {
        TESTKIT.shutdownTestKit();
    }

    private record Ping(ActorRef<String> replyTo) {
    }

    @Test
    void continuationsRunOnTheThreadThatCompletesAScalaFuture() throws Exception {
        Promise<String> promise = Promise.apply();
        CompletionStage<String> scala = FutureConverters.asJava(promise.future());
        AtomicReference<Thread> plain = new AtomicReference<>();
        AtomicReference<Thread> inline = new AtomicReference<>();
        CompletableFuture<Void> plainDone = scala.thenAccept(v -> plain.set(Thread.currentThread()))
                .toCompletableFuture();
        CompletableFuture<Void> inlineDone = Stages.inline(scala).thenAccept(v -> inline.set(Thread.currentThread()));

        Thread completer = new Thread(() -> promise.success("done"), "stages-completer");
        completer.start();
        completer.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
        plainDone.get(WAIT_SECONDS, TimeUnit.SECONDS);
        inlineDone.get(WAIT_SECONDS, TimeUnit.SECONDS);

        // why Stages exists: Scala's future runs even thenAccept on an executor of its own
        assertNotSame(completer, plain.get());
        assertSame(completer, inline.get());
    }

    @Test
    void failuresPassThroughUnchanged() {
        Promise<String> promise = Promise.apply();
        CompletableFuture<String> f = Stages.inline(FutureConverters.asJava(promise.future()));
        IllegalStateException cause = new IllegalStateException("no replica");
        promise.failure(cause);
        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                () -> f.get(WAIT_SECONDS, TimeUnit.SECONDS));
        assertSame(cause, e.getCause());
    }

    @Test
    void onDoneHandsItsActionTheFailureItselfOnTheCompletingThread() throws Exception {
        CompletableFuture<String> stage = new CompletableFuture<>();
        AtomicReference<Throwable> seen = new AtomicReference<>();
        AtomicReference<Thread> ranOn = new AtomicReference<>();
        java.util.concurrent.CountDownLatch ran = new java.util.concurrent.CountDownLatch(1);
        Stages.onDone(stage, (value, error) -> {
            seen.set(error);
            ranOn.set(Thread.currentThread());
            ran.countDown();
        });
        IllegalStateException cause = new IllegalStateException("overloaded");
        Thread completer = new Thread(() -> stage.completeExceptionally(cause), "stages-failer");
        completer.start();

        assertTrue(ran.await(WAIT_SECONDS, TimeUnit.SECONDS));
        assertSame(cause, seen.get());
        assertSame(completer, ranOn.get());
    }

    @Test
    void onDoneRunsAtOnceForAStageAlreadyDone() {
        AtomicReference<String> seen = new AtomicReference<>();
        Stages.onDone(CompletableFuture.completedFuture("ready"), (value, error) -> seen.set(value));
        assertEquals("ready", seen.get());
    }

    @Test
    void aCompletedStageGivesACompletedFuture() {
        CompletableFuture<String> f = Stages.inline(CompletableFuture.completedFuture("ready"));
        assertTrue(f.isDone());
        assertEquals("ready", f.join());
    }

    @Test
    void delayedTasksShareOneThreadInsteadOfStartingOneEach() throws Exception {
        CompletableFuture<Thread> first = new CompletableFuture<>();
        CompletableFuture<Thread> second = new CompletableFuture<>();
        long start = System.nanoTime();
        Stages.later(TimeUnit.MILLISECONDS.toNanos(20), () -> first.complete(Thread.currentThread()));
        Stages.later(TimeUnit.MILLISECONDS.toNanos(20), () -> second.complete(Thread.currentThread()));

        Thread a = first.get(WAIT_SECONDS, TimeUnit.SECONDS);
        Thread b = second.get(WAIT_SECONDS, TimeUnit.SECONDS);
        assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(20));
        assertSame(a, b);
    }

    @Test
    void anAskIsAnsweredOnTheActorSystemsThreads() throws Exception {
        ActorRef<Object> actor = TESTKIT.spawn(holdsTheAskUntilReleased(null));
        AtomicReference<Thread> answeredOn = new AtomicReference<>();
        CompletableFuture<String> reply = Stages.inline(AskPattern.<Object, String>ask(actor, Ping::new,
                        Duration.ofSeconds(WAIT_SECONDS), TESTKIT.scheduler()))
                .whenComplete((r, e) -> answeredOn.set(Thread.currentThread()));
        actor.tell(Release.INSTANCE); // the answer comes after the continuation is in place

        assertEquals("pong", reply.get(WAIT_SECONDS, TimeUnit.SECONDS));
        // delivered on a dispatcher thread of the system, not on a thread started for it
        assertTrue(answeredOn.get().getName().startsWith("stages-"), answeredOn.get().getName());
    }

    private enum Release { INSTANCE }

    private static Behavior<Object> holdsTheAskUntilReleased(ActorRef<String> waiting) {
        return Behaviors.receiveMessage(m -> {
            if (m instanceof Ping ping) {
                return holdsTheAskUntilReleased(ping.replyTo());
            }
            if (waiting != null) {
                waiting.tell("pong");
            }
            return Behaviors.same();
        });
    }
}
