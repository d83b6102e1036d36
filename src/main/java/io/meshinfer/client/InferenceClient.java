package io.meshinfer.client;

import io.meshinfer.api.ErrorKind;
import io.meshinfer.api.InferenceError;
import io.meshinfer.api.InferenceException;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.routing.InferenceService;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.pattern.Patterns;
import org.apache.pekko.stream.javadsl.Flow;

/**
 * The Java API for services running in the cluster. Every call completes exactly once,
 * before the request's timeout plus a short grace: with the response, or exceptionally
 * with a typed {@link InferenceException} ({@code InvalidInput}, {@code ModelNotFound},
 * {@code Overloaded}, {@code Unavailable}, {@code DeadlineExceeded},
 * {@code ResidencyViolation}, {@code ModelFailed}, {@code Internal}). Thread-safe.
 *
 * <pre>{@code
 * InferenceClient client = node.client();
 * client.infer(InferenceRequest.builder("sensor-health")
 *                 .input("features", Tensor.ofFloats(new long[] {1, 8}, row))
 *                 .timeout(Duration.ofSeconds(2))
 *                 .build())
 *       .thenAccept(r -> use(r.output("probabilities")));
 * }</pre>
 *
 * <p>For bulk scoring, {@link #flow} is a Pekko Streams {@code Flow} of requests to
 * outcomes, backpressured end to end.
 *
 * <p>Tracing: a request built with {@code InferenceRequest.Builder.traceparent(header)}
 * continues the caller's W3C trace (else it starts one), and the response's
 * {@code traceId()} names the trace it was served in.
 */
public final class InferenceClient {
    private static final Duration FIRST_BACKOFF = Duration.ofMillis(5);
    private static final Duration MAX_BACKOFF = Duration.ofMillis(500);

    private final InferenceService service;
    private final ActorSystem<?> system;

    private InferenceClient(InferenceService service, ActorSystem<?> system) {
        this.service = service;
        this.system = system;
    }

    /**
     * A client that sends requests through {@code service} (a node, or a client-only
     * member); {@code system} schedules the back-off of {@link #flow}.
     */
    public static InferenceClient of(InferenceService service, ActorSystem<?> system) {
        return new InferenceClient(service, system);
    }

    public CompletionStage<InferenceResponse> infer(InferenceRequest request) {
        return service.infer(request);
    }

    /** One request's terminal outcome in a {@link #flow}: exactly one of response and error is set. */
    public record Outcome(String id, InferenceResponse response, InferenceError error) {
        public boolean succeeded() {
            return response != null;
        }
    }

    /**
     * Scores a stream of requests with at most {@code parallelism} in flight, emitting one
     * {@link Outcome} per request in request order. Backpressure reaches the producer: a
     * slow replica slows the stream, and an {@code OVERLOADED} answer is retried with
     * exponential back-off (5 ms up to 500 ms) while the request's deadline allows, so
     * overload costs time, not requests. Other errors are emitted as outcomes; the stream
     * itself never fails because of one request.
     */
    public Flow<InferenceRequest, Outcome, NotUsed> flow(int parallelism) {
        return Flow.<InferenceRequest>create().mapAsync(parallelism, request -> {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(request.timeoutMillis());
            return withBackoff(request, deadline, FIRST_BACKOFF).handle((response, error) -> response != null
                    ? new Outcome(request.id(), response, null)
                    : new Outcome(request.id(), null, asError(error)));
        });
    }

    private CompletionStage<InferenceResponse> withBackoff(InferenceRequest request, long deadline, Duration backoff) {
        long remaining = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (remaining <= 0) {
            return CompletableFuture.failedFuture(new InferenceException.DeadlineExceeded(
                    "the deadline passed while the replicas were overloaded"));
        }
        return service.infer(request.withTimeoutMillis(remaining)).handle((response, error) -> {
            if (error == null) {
                return CompletableFuture.completedFuture(response);
            }
            InferenceError e = asError(error);
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (e.kind() == ErrorKind.OVERLOADED && left > backoff.toMillis()) {
                Duration next = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF
                        : backoff.multipliedBy(2);
                return Patterns.after(backoff, system.classicSystem().scheduler(), system.executionContext(),
                        () -> withBackoff(request, deadline, next));
            }
            return CompletableFuture.<InferenceResponse>failedFuture(e.toException());
        }).thenCompose(stage -> stage);
    }

    private static InferenceError asError(Throwable error) {
        Throwable cause = error;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof InferenceException ie) {
            return ie.toError();
        }
        return new InferenceError(ErrorKind.INTERNAL, String.valueOf(cause));
    }
}
