package io.meshinfer.ensemble;

import io.meshinfer.api.EnsembleReport;
import io.meshinfer.api.ErrorKind;
import io.meshinfer.api.InferenceException;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.api.Stages;
import io.meshinfer.registry.CatalogView;
import io.meshinfer.registry.EnsembleSpec;
import io.meshinfer.registry.ModelEntry;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.routing.EntryPoint;
import io.meshinfer.routing.InferenceService;
import io.meshinfer.routing.Router;
import io.meshinfer.routing.RouterSettings;
import io.meshinfer.tensor.NamedTensor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/**
 * Serves ensembles (versions whose manifest carries an {@link EnsembleSpec}) on the node a
 * request entered: the request goes to every member at once, each member request an ordinary
 * request through {@code members} (the node's pipeline chain and router: batching, residency,
 * locality, retries, so a member may be a pipeline), with the request's residency, principal,
 * routing key, trace and what is left of its budget; the answers are combined by
 * {@link Combiner}. Requests to any other model pass straight to {@code members}.
 *
 * <p>Each member request is checked against the caller's token as if it had been sent
 * directly ({@link EntryPoint#authorize}): a token must allow the members too, and its regions
 * narrow each member's residency. A member that fails (any error kind, or no answer by the
 * deadline) is <em>missing</em>. Under {@code missing = fail} the first missing member fails the
 * request at once with that member's error kind, named in the message; under {@code partial}
 * the answer is combined from the members that answered if at least {@code min_members} did,
 * and the response's {@link EnsembleReport} names the missing ones; otherwise the request fails
 * with the first missing member's kind. Every call completes exactly once, no later than the
 * request's deadline (members still running then count as missing); a member answering after
 * that is dropped. Per request it holds one slot per member, bounded by
 * {@code meshinfer.ensemble.max-members}. Thread-safe.
 */
public final class EnsembleService implements InferenceService {
    /** Longest error message quoted for a missing member in a response. */
    private static final int MAX_REASON = 200;

    /** Receives the outcome of each member request (error null: it answered). */
    @FunctionalInterface
    public interface MemberRecorder {
        void record(String ensemble, String member, Throwable error);
    }

    private final CatalogView catalog;
    private final InferenceService members;
    private final RouterSettings routing;
    private final String node;
    private final String region;
    private final MemberRecorder recorder;
    private final io.meshinfer.routing.RolloutTracker rollouts;

    /**
     * @param node this node's name and {@code region} its region, for the responses it combines
     * @param rollouts records ensemble requests for rollouts between ensemble versions
     */
    public EnsembleService(CatalogView catalog, InferenceService members, RouterSettings routing, String node,
                           String region, MemberRecorder recorder, io.meshinfer.routing.RolloutTracker rollouts) {
        this.rollouts = rollouts;
        this.catalog = catalog;
        this.members = members;
        this.routing = routing;
        this.node = node;
        this.region = region;
        this.recorder = recorder;
    }

    @Override
    public CompletionStage<InferenceResponse> infer(InferenceRequest request) {
        ModelEntry entry = catalog.models().get(request.model());
        if (entry == null || !entry.anyVersion(ModelManifest::isEnsemble)) {
            return members.infer(request);
        }
        ModelManifest ensemble;
        try {
            ensemble = Router.resolve(catalog, request);
        } catch (InferenceException e) {
            return members.infer(request);
        }
        if (!ensemble.isEnsemble()) {
            return members.infer(request);
        }
        long start = System.nanoTime();
        int rows;
        try {
            rows = ensemble.signature().prepare(request.inputs(), request.outputs(), routing.maxRequestBytes()).rows();
        } catch (InferenceException e) {
            return CompletableFuture.failedFuture(e);
        }
        long budget = Math.min(request.timeoutMillis(), routing.maxTimeout().toMillis());
        Fanout f = new Fanout(request, ensemble, rows, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(budget));
        f.start();
        rollouts.track(request, ensemble, start, f.result, this);
        return f.result;
    }

    /** One ensemble request in progress: a slot per member, filled once each. */
    private final class Fanout {
        final InferenceRequest request;
        final ModelManifest ensemble;
        final EnsembleSpec spec;
        final int rows;
        final long deadline;
        final CompletableFuture<InferenceResponse> result = new CompletableFuture<>();
        /** Completes when every member answered, or one failed under {@code fail}, or the deadline passed. */
        final CompletableFuture<Void> settled = new CompletableFuture<>();
        final InferenceResponse[] answers;
        final InferenceException[] errors;
        int pending;

        Fanout(InferenceRequest request, ModelManifest ensemble, int rows, long deadline) {
            this.request = request;
            this.ensemble = ensemble;
            this.spec = ensemble.ensemble();
            this.rows = rows;
            this.deadline = deadline;
            this.answers = new InferenceResponse[spec.members().size()];
            this.errors = new InferenceException[spec.members().size()];
            this.pending = answers.length;
        }

        void start() {
            long remaining = deadline - System.nanoTime();
            // orTimeout cancels its timer when the fan-out settles first: nothing lingers
            Stages.onDone(settled.orTimeout(Math.max(1, remaining), TimeUnit.NANOSECONDS), (v, e) -> finish(e != null));
            for (int i = 0; i < answers.length && !settled.isDone(); i++) {
                send(i, remaining); // stops early when a member already failed a missing=fail request
            }
        }

        private void send(int index, long remainingNanos) {
            EnsembleSpec.Member m = spec.members().get(index);
            CompletionStage<InferenceResponse> answer;
            try {
                InferenceRequest sent = EntryPoint.authorize(new InferenceRequest(request.id(), m.model(), m.version(),
                        request.inputs(), request.outputs(), Math.max(1, TimeUnit.NANOSECONDS.toMillis(remainingNanos)),
                        request.residency(), request.routingKey(), request.principal(), request.trace()));
                answer = members.infer(sent);
            } catch (RuntimeException e) {
                answer = CompletableFuture.failedFuture(e);
            }
            Stages.onDone(answer, (response, error) -> answered(index, response, error));
        }

        private void answered(int index, InferenceResponse response, Throwable error) {
            recorder.record(ensemble.model(), spec.members().get(index).model(), error);
            boolean settle;
            synchronized (this) {
                if (settled.isDone()) {
                    return; // too late: the request was answered without it
                }
                if (error != null) {
                    errors[index] = asInferenceException(error);
                } else {
                    answers[index] = response;
                }
                pending--;
                settle = pending == 0 || (error != null && spec.missing() == EnsembleSpec.Missing.FAIL);
            }
            if (settle) {
                settled.complete(null);
            }
        }

        private void finish(boolean timedOut) {
            List<List<NamedTensor>> outputs = new ArrayList<>();
            double[] weights = new double[answers.length];
            List<String> present = new ArrayList<>();
            List<String> missing = new ArrayList<>();
            InferenceException firstError = null;
            boolean island = false;
            synchronized (this) {
                for (int i = 0; i < answers.length; i++) {
                    EnsembleSpec.Member m = spec.members().get(i);
                    InferenceException e = errors[i];
                    if (answers[i] != null) {
                        weights[outputs.size()] = m.weight();
                        outputs.add(answers[i].outputs());
                        present.add(answers[i].model() + "@" + answers[i].version());
                        island |= answers[i].islandMode();
                        continue;
                    }
                    if (e == null && !timedOut) {
                        continue; // not waited for: another member already failed the request
                    }
                    if (e == null) {
                        e = new InferenceException.DeadlineExceeded("no answer within the request's deadline");
                    }
                    missing.add(m.label() + ": " + e.kind() + " " + reason(e));
                    firstError = firstError == null ? e : firstError;
                }
            }
            boolean fail = spec.missing() == EnsembleSpec.Missing.FAIL || outputs.size() < spec.required();
            if (firstError != null && fail) {
                String count = spec.missing() == EnsembleSpec.Missing.FAIL ? "" : " (" + outputs.size() + " of "
                        + answers.length + " members answered, fewer than min_members " + spec.minMembers() + ")";
                result.completeExceptionally(InferenceException.of(firstError.kind(), "ensemble " + ensemble.key()
                        + count + ": member " + String.join("; member ", missing)));
                return;
            }
            try {
                List<NamedTensor> combined = Combiner.combine(spec.combine(), outputs,
                        java.util.Arrays.copyOf(weights, outputs.size()));
                result.complete(new InferenceResponse(request.id(), ensemble.model(), ensemble.version(), combined,
                        node, region, rows, island, request.trace(), new EnsembleReport(present, missing)));
            } catch (RuntimeException e) {
                result.completeExceptionally(asInferenceException(e));
            }
        }
    }

    private static String reason(InferenceException e) {
        String m = e.getMessage() == null ? "" : e.getMessage();
        return m.length() <= MAX_REASON ? m : m.substring(0, MAX_REASON) + "...";
    }

    private static InferenceException asInferenceException(Throwable error) {
        Throwable cause = error;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof InferenceException ie) {
            return ie;
        }
        return new InferenceException.Internal("a member failed: " + cause.getClass().getSimpleName() + ": "
                + cause.getMessage());
    }
}
