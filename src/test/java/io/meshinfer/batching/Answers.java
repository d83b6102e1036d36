package io.meshinfer.batching;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.meshinfer.api.ErrorKind;
import io.meshinfer.api.InferenceError;
import io.meshinfer.runtime.ModelSignature.Prepared;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The answers of one test's requests. Each {@link Sink} records its first answer and counts
 * every call, so a test can prove that every request got exactly one terminal answer; a
 * second call is also recorded here as a violation rather than thrown, because a throw on
 * the batcher's run thread would change what the batcher does next.
 */
final class Answers {
    private static final long WAIT_SECONDS = 30;

    private final List<Sink> sinks = Collections.synchronizedList(new ArrayList<>());
    private final List<String> violations = Collections.synchronizedList(new ArrayList<>());

    /** One terminal answer: outputs with the batch's rows, or an error. */
    record Answer(List<NamedTensor> outputs, int batchRows, long queueNanos, InferenceError error,
                  boolean deliveredDuringSubmit) {
        boolean succeeded() {
            return error == null;
        }

        ErrorKind kind() {
            return error == null ? null : error.kind();
        }

        Tensor output(String name) {
            if (outputs == null) {
                fail("request failed: " + error);
            }
            Tensor t = NamedTensor.find(outputs, name);
            if (t == null) {
                fail("no output '" + name + "' in " + outputs);
            }
            return t;
        }
    }

    /** A new sink, counted by this collector. */
    Sink sink(String label) {
        Sink s = new Sink(label);
        sinks.add(s);
        return s;
    }

    /** Submits through {@code batcher} and remembers whether the answer came before submit returned. */
    Sink submit(Batcher batcher, Prepared prepared, long deadlineNanos, String label) {
        Sink s = sink(label);
        s.submitting = true;
        batcher.submit(prepared, deadlineNanos, s);
        s.submitting = false;
        return s;
    }

    List<Sink> sinks() {
        synchronized (sinks) {
            return List.copyOf(sinks);
        }
    }

    /** Waits for every sink's answer. */
    List<Answer> awaitAll() {
        List<Answer> out = new ArrayList<>();
        for (Sink s : sinks()) {
            out.add(s.await());
        }
        return out;
    }

    /** Every request was answered, each exactly once, and nothing called a sink twice. */
    void assertEachAnsweredExactlyOnce() {
        for (Sink s : sinks()) {
            assertEquals(1, s.calls.get(), "answers to request " + s.label);
        }
        assertEquals(List.of(), violations);
    }

    long count(ErrorKind kind) {
        return sinks().stream().filter(s -> s.answered() && kind == s.now().kind()).count();
    }

    long successes() {
        return sinks().stream().filter(s -> s.answered() && s.now().succeeded()).count();
    }

    /** Records one request's answer; see {@link Answers}. */
    final class Sink implements ResultSink {
        final String label;
        private final CompletableFuture<Answer> first = new CompletableFuture<>();
        private final AtomicInteger calls = new AtomicInteger();
        private volatile boolean submitting;

        Sink(String label) {
            this.label = label;
        }

        @Override
        public void success(List<NamedTensor> outputs, int batchRows, long queueNanos) {
            record(new Answer(List.copyOf(outputs), batchRows, queueNanos, null, submitting));
        }

        @Override
        public void failure(InferenceError error) {
            record(new Answer(null, 0, 0, error, submitting));
        }

        private void record(Answer a) {
            if (calls.incrementAndGet() > 1) {
                violations.add("request " + label + " answered again: " + a + " after " + first.getNow(null));
                return;
            }
            first.complete(a);
        }

        boolean answered() {
            return first.isDone();
        }

        /** The answer, which must already have arrived. */
        Answer now() {
            assertTrue(first.isDone(), "request " + label + " has no answer yet");
            return first.join();
        }

        Answer await() {
            try {
                return first.get(WAIT_SECONDS, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new AssertionError("request " + label + " got no answer within " + WAIT_SECONDS + " s", e);
            }
        }
    }
}
