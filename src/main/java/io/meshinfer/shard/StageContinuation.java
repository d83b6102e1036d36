package io.meshinfer.shard;

import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * What a replica does with its answer to a pipeline stage that another node asked for:
 * the node goes on with the next stages itself, so activations travel from stage to stage
 * directly instead of back through the node the request entered, and the answer that
 * node gets is the last stage's (see {@code io.meshinfer.pipeline.StageChain}).
 */
@FunctionalInterface
public interface StageContinuation {
    /** Answers as the stage did: no continuation (a node without pipelines, tests). */
    StageContinuation NONE = (request, answer, spentNanos) -> CompletableFuture.completedFuture(answer);

    /**
     * @param stageRequest the request the stage served, as it arrived
     * @param stageAnswer the stage's answer
     * @param spentNanos time spent on this node since the request arrived, taken from its budget
     * @return the answer to send back: {@code stageAnswer} itself when nothing follows
     */
    CompletionStage<InferenceResponse> after(InferenceRequest stageRequest, InferenceResponse stageAnswer,
                                             long spentNanos);
}
