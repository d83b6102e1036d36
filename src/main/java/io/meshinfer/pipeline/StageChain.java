package io.meshinfer.pipeline;

import io.meshinfer.api.ErrorKind;
import io.meshinfer.api.InferenceException;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.registry.CatalogView;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.routing.InferenceService;
import io.meshinfer.routing.Router;
import io.meshinfer.routing.RouterSettings;
import io.meshinfer.runtime.TensorSpec;
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
 * {@code stageRetryBackoff}, until the deadline; earlier stages never run twice. Every call
 * completes exactly once. Activations go back through this node between stages; the bytes
 * handed from one stage to the next are reported to {@code activations}. Thread-safe.
 */
public final class StageChain implements InferenceService {

    /** Receives the activation bytes of each answered pipeline request. */
    @FunctionalInterface
    public interface ActivationRecorder {
        void record(String model, String version, long bytes);
    }

    private final CatalogView catalog;
    private final InferenceService stages;
    private final RouterSettings routing;
    private final PipelineSettings settings;
    private final ActivationRecorder activations;

    public StageChain(CatalogView catalog, InferenceService stages, RouterSettings routing, PipelineSettings settings,
                      ActivationRecorder activations) {
        this.catalog = catalog;
        this.stages = stages;
        this.routing = routing;
        this.settings = settings;
        this.activations = activations;
    }

    @Override
    public CompletionStage<InferenceResponse> infer(InferenceRequest request) {
        if (!servesPipeline(catalog.models().get(request.model()))) {
            return stages.infer(request); // the usual case: no version is a pipeline (or no such model)
        }
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
            answer.whenComplete((response, error) -> {
                if (error != null) {
                    failed(index, inputs, error);
                } else if (last) {
                    activations.record(pipeline.model(), pipeline.version(), activationBytes);
                    result.complete(new InferenceResponse(request.id(), pipeline.model(), pipeline.version(),
                            response.outputs(), response.node(), response.region(), response.batchRows(),
                            response.islandMode(), response.trace()));
                } else {
                    List<NamedTensor> next = nextInputs(index + 1, response.outputs());
                    for (NamedTensor t : next) {
                        activationBytes += t.tensor().byteSize();
                    }
                    stage(index + 1, next);
                }
            });
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
                CompletableFuture.delayedExecutor(backoff, TimeUnit.NANOSECONDS)
                        .execute(() -> stage(index, inputs));
            } else {
                result.completeExceptionally(cause);
            }
        }
    }

    /**
     * Whether any version of {@code entry} is a pipeline; checked before resolving a version,
     * so requests to plain models pay one map lookup and a loop over their few versions
     * instead of a second version choice ahead of the router's.
     */
    private static boolean servesPipeline(io.meshinfer.registry.ModelEntry entry) {
        if (entry == null) {
            return false;
        }
        for (ModelManifest m : entry.versions().values()) {
            if (m.isPipeline()) {
                return true;
            }
        }
        return false;
    }
}
