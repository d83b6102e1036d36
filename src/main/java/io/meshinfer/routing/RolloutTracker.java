package io.meshinfer.routing;

import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.registry.ModelManifest;
import java.util.concurrent.CompletionStage;

/**
 * Records requests to versions in a rollout that the router does not route itself
 * (pipelines and ensembles, run by the node they entered), so their latency and outcome
 * feed the rollout's gates and shadow traffic is mirrored through {@code via}; see
 * {@link Router#trackRollout}.
 */
@FunctionalInterface
public interface RolloutTracker {
    /** Records nothing (no cluster, tests). */
    RolloutTracker NONE = (request, manifest, startNanos, result, via) -> { };

    void track(InferenceRequest request, ModelManifest manifest, long startNanos,
               CompletionStage<InferenceResponse> result, InferenceService via);
}
