package io.meshinfer.pipeline;

import io.meshinfer.api.ErrorKind;
import io.meshinfer.api.InferenceException;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.api.Stages;
import io.meshinfer.registry.CatalogView;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.routing.InferenceService;
import io.meshinfer.routing.Router;
import io.meshinfer.routing.RouterSettings;
import io.meshinfer.runtime.TensorSpec;
import io.meshinfer.shard.LargeMessages;
import io.meshinfer.tensor.NamedTensor;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/**
 * Runs requests to a pipeline (a model version deployed with {@code stages=K}) as a chain
 * on the node they entered: stage 0 gets the request's inputs, each later stage the
 * previous stage's outputs (by name), and the last stage's outputs are the answer, under
 * the pipeline's model and version. Requests to any other model pass straight to
 * {@code stages}.
 *
 * <p>Each stage is an ordinary request to the stage model {@code m~stage-i} at the
 * pipeline's version, sent through {@code stages} (the node's router: batching, residency,
 * locality, retries on another replica, island mode), with what is left of the request's
 * budget. The chain holds each stage's input until that stage answers, so a stage whose
 * replicas all failed with {@code OVERLOADED} or {@code UNAVAILABLE} (its node died and
 * its replicas are restarting elsewhere) is asked again from that input, after
 * {@code stageRetryBackoff}, until the deadline. Every call completes exactly once.
 *
 * <p>Activations go from stage to stage directly: a stage replica on another node does not
 * send its outputs back here but goes on with the next stages itself
 * ({@link #continueAfter}, called by the replica), holding its outputs as the next stage's
 * input in the same way, and answers with the last stage's outputs. So a dead stage node is
 * retried from the stage whose input a live node still holds: the stage it was serving if
 * it died after answering its predecessor, otherwise from further back, at worst from the
 * start (this node holds the request's inputs). A stage on this node hands its outputs on
 * here. The bytes each node hands from one stage to the next are reported to
 * {@code activations}; the bytes of stage requests that reached a node over the network, to
 * {@code network}. Thread-safe.
 */
public final class StageChain implements InferenceService {

    /** Receives bytes of a pipeline request: activations handed on, or tensors that crossed the network. */
    @FunctionalInterface
    public interface ActivationRecorder {
        void record(String model, String version, long bytes);
    }

    private final CatalogView catalog;
    private final InferenceService stages;
    private final RouterSettings routing;
    private final PipelineSettings settings;
    private final ActivationRecorder activations;
    private final ActivationRecorder network;
    private final io.meshinfer.routing.RolloutTracker rollouts;

    /**
     * @param activations receives the bytes this node hands from one stage to the next, per request
     * @param network receives the bytes of stage requests that reached this node from another one
     * @param rollouts records pipeline requests for rollouts between pipeline versions
     */
    public StageChain(CatalogView catalog, InferenceService stages, RouterSettings routing, PipelineSettings settings,
                      ActivationRecorder activations, ActivationRecorder network,
                      io.meshinfer.routing.RolloutTracker rollouts) {
        this.network = network;
        this.rollouts = rollouts;
        this.catalog = catalog;
        this.stages = stages;
        this.routing = routing;
        this.settings = settings;
        this.activations = activations;
    }

    @Override
    public CompletionStage<InferenceResponse> infer(InferenceRequest request) {
        io.meshinfer.registry.ModelEntry entry = catalog.models().get(request.model());
        if (entry == null || !entry.anyVersion(ModelManifest::isPipeline)) {
            return stages.infer(request); // the usual case: no version is a pipeline (or no such model)
        }
        long start = System.nanoTime();
        ModelManifest pipeline;
        try {
            pipeline = Router.resolve(catalog, request);
        } catch (InferenceException e) {
            return stages.infer(request); // not a pipeline, or not deployed: the router answers it
        }
        if (!pipeline.isPipeline()) {
            return stages.infer(request);
        }
        try {
            pipeline.signature().prepare(request.inputs(), request.outputs(), routing.maxRequestBytes());
        } catch (InferenceException e) {
            return CompletableFuture.failedFuture(e);
        }
        long budget = Math.min(request.timeoutMillis(), routing.maxTimeout().toMillis());
        Run run = new Run(request, pipeline, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(budget));
        run.stage(0, request.inputs());
        rollouts.track(request, pipeline, start, run.result, this);
        return run.result;
    }

    /**
     * Goes on with a pipeline on this node after one of its stages answered here a request
     * sent by another node (see {@link io.meshinfer.shard.StageContinuation}): the stage's
     * outputs go straight to the next stage, and the answer is the last stage's, under the
     * pipeline's name, which tells the sender the chain is done. The stage request's inputs
     * crossed the network to get here and are counted as such. A request to a plain model,
     * to a last stage, or to a pipeline this node's catalog does not know yet is answered as
     * the stage answered (the sender then goes on itself).
     */
    public CompletionStage<InferenceResponse> continueAfter(InferenceRequest stageRequest, InferenceResponse stageAnswer,
                                                            long spentNanos) {
        String model = ModelManifest.pipelineOf(stageRequest.model());
        if (model == null) {
            return CompletableFuture.completedFuture(stageAnswer);
        }
        network.record(model, stageRequest.version(), LargeMessages.bytes(stageRequest.inputs()));
        int index;
        try {
            index = Integer.parseInt(stageRequest.model().substring(model.length()
                    + ModelManifest.STAGE_SEPARATOR.length()));
        } catch (NumberFormatException e) {
            return CompletableFuture.completedFuture(stageAnswer);
        }
        ModelManifest pipeline = catalog.manifest(model, stageRequest.version()).orElse(null);
        if (pipeline == null || !pipeline.isPipeline() || index + 1 >= pipeline.stages()) {
            return CompletableFuture.completedFuture(stageAnswer);
        }
        Run run = new Run(stageRequest, pipeline, System.nanoTime()
                + TimeUnit.MILLISECONDS.toNanos(stageRequest.timeoutMillis()) - spentNanos);
        run.handOn(index, stageAnswer.outputs());
        return run.result;
    }

    /** One pipeline request in progress. */
    private final class Run {
        final InferenceRequest request;
        final ModelManifest pipeline;
        final long deadline;
        final CompletableFuture<InferenceResponse> result = new CompletableFuture<>();
        long activationBytes;

        Run(InferenceRequest request, ModelManifest pipeline, long deadline) {
            this.request = request;
            this.pipeline = pipeline;
            this.deadline = deadline;
        }

        void stage(int index, List<NamedTensor> inputs) {
            long remaining = deadline - System.nanoTime();
            if (remaining <= 0) {
                result.completeExceptionally(new InferenceException.DeadlineExceeded("the deadline passed before"
                        + " stage " + index + " of " + pipeline.stages() + " of " + pipeline.key() + " answered"));
                return;
            }
            boolean last = index == pipeline.stages() - 1;
            InferenceRequest sent = new InferenceRequest(request.id(),
                    ModelManifest.stageModel(pipeline.model(), index), pipeline.version(), inputs,
                    last ? request.outputs() : List.of(), Math.max(1, TimeUnit.NANOSECONDS.toMillis(remaining)),
                    request.residency(), null, request.principal(), request.trace());
            CompletionStage<InferenceResponse> answer;
            try {
                answer = stages.infer(sent);
            } catch (RuntimeException e) {
                answer = CompletableFuture.failedFuture(e);
            }
            Stages.onDone(answer, (response, error) -> {
                if (error != null) {
                    failed(index, inputs, error);
                } else if (last || pipeline.model().equals(response.model())) {
                    // the last stage answered, or the stage's node ran the rest of the chain itself
                    activations.record(pipeline.model(), pipeline.version(), activationBytes);
                    result.complete(new InferenceResponse(request.id(), pipeline.model(), pipeline.version(),
                            requested(response.outputs()), response.node(), response.region(), response.batchRows(),
                            response.islandMode(), response.trace()));
                } else {
                    handOn(index, response.outputs());
                }
            });
        }

        /** Gives stage {@code index}'s outputs to the next stage. */
        void handOn(int index, List<NamedTensor> outputs) {
            List<NamedTensor> next = nextInputs(index + 1, outputs);
            activationBytes += LargeMessages.bytes(next);
            stage(index + 1, next);
        }

        /** The outputs the request asked for, in its order (all when it named none). */
        private List<NamedTensor> requested(List<NamedTensor> outputs) {
            if (request.outputs().isEmpty()) {
                return outputs;
            }
            List<NamedTensor> kept = new ArrayList<>(request.outputs().size());
            for (String name : request.outputs()) {
                for (NamedTensor t : outputs) {
                    if (t.name().equals(name)) {
                        kept.add(t);
                    }
                }
            }
            return kept;
        }

        /** A stage's outputs that the next stage takes (all of them, unless its manifest says fewer). */
        private List<NamedTensor> nextInputs(int index, List<NamedTensor> outputs) {
            var next = catalog.manifest(ModelManifest.stageModel(pipeline.model(), index), pipeline.version());
            if (next.isEmpty() || next.get().signature() == null) {
                return outputs;
            }
            Set<String> wanted = new HashSet<>();
            for (TensorSpec s : next.get().signature().inputs()) {
                wanted.add(s.name());
            }
            List<NamedTensor> kept = new ArrayList<>(wanted.size());
            for (NamedTensor t : outputs) {
                if (wanted.contains(t.name())) {
                    kept.add(t);
                }
            }
            return kept;
        }

        private void failed(int index, List<NamedTensor> inputs, Throwable error) {
            Throwable cause = error;
            while (cause instanceof CompletionException && cause.getCause() != null) {
                cause = cause.getCause();
            }
            boolean retryable = cause instanceof InferenceException ie
                    && (ie.kind() == ErrorKind.OVERLOADED || ie.kind() == ErrorKind.UNAVAILABLE);
            long backoff = settings.stageRetryBackoff().toNanos();
            if (retryable && deadline - System.nanoTime() > backoff) {
                Stages.later(backoff, () -> stage(index, inputs));
            } else {
                result.completeExceptionally(cause);
            }
        }
    }
}
