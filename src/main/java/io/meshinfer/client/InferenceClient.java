package io.meshinfer.client;

import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.routing.InferenceService;
import java.util.concurrent.CompletionStage;

/**
 * The Java API for services running in the cluster. Every call completes exactly once,
 * before the request's timeout plus a short grace: with the response, or exceptionally
 * with a typed {@link io.meshinfer.api.InferenceException} ({@code InvalidInput},
 * {@code ModelNotFound}, {@code Overloaded}, {@code Unavailable}, {@code DeadlineExceeded},
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
 */
public final class InferenceClient {
    private final InferenceService service;

    private InferenceClient(InferenceService service) {
        this.service = service;
    }

    /** A client that sends requests through {@code service} (a node, or a client-only member). */
    public static InferenceClient of(InferenceService service) {
        return new InferenceClient(service);
    }

    public CompletionStage<InferenceResponse> infer(InferenceRequest request) {
        return service.infer(request);
    }
}
