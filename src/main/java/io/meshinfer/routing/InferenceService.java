package io.meshinfer.routing;

import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import java.util.concurrent.CompletionStage;

/**
 * Answers inference requests. Every call completes exactly once: with the response, or
 * exceptionally with an {@link io.meshinfer.api.InferenceException}.
 */
public interface InferenceService {
    CompletionStage<InferenceResponse> infer(InferenceRequest request);
}
