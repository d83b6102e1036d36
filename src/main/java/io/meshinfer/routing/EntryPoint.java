package io.meshinfer.routing;

import io.meshinfer.api.InferenceException;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.api.Principal;
import io.meshinfer.api.TraceContext;
import io.meshinfer.security.AuditLog;
import io.meshinfer.security.AuditRecord;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * Where a request enters this node, from the HTTP gateway or the in-process Java client.
 * The request's principal, when it has one, is applied before routing: the model must be
 * among its token's models ({@code PERMISSION_DENIED} otherwise), and its token's regions
 * narrow the request's residency, so the router only considers replicas there (an empty
 * intersection is a {@code RESIDENCY_VIOLATION}). Then the request is audited: room for its
 * record is reserved before it runs (when the audit log cannot take it, the request is
 * refused {@code UNAVAILABLE} and nothing runs), and one record is written when it is
 * answered. Requests without a principal (in-process callers, authentication off) pass
 * unchanged. The request arrives with its trace span for this node already set (the gateway
 * or the client's request builder continued the caller's trace or started one), and the
 * audit record carries it. Every call completes exactly once. Thread-safe.
 */
public final class EntryPoint implements InferenceService {
    private final InferenceService inner;
    private final AuditLog audit;
    private final String via;

    /** @param via how requests reach this entry, for the audit record: {@code http} or {@code java} */
    public EntryPoint(InferenceService inner, AuditLog audit, String via) {
        this.inner = inner;
        this.audit = audit;
        this.via = via;
    }

    @Override
    public CompletionStage<InferenceResponse> infer(InferenceRequest request) {
        long start = System.nanoTime();
        InferenceRequest admitted;
        try {
            admitted = authorize(request);
        } catch (InferenceException e) {
            audit.offer(record(request, null, e, start, e.getMessage()));
            return CompletableFuture.failedFuture(e);
        }
        if (!audit.enabled()) {
            return inner.infer(admitted); // no record to write: build none
        }
        AuditLog.Ticket ticket = audit.reserve();
        if (ticket == null) {
            return CompletableFuture.failedFuture(new InferenceException.Unavailable(audit.refusal()));
        }
        CompletionStage<InferenceResponse> answer;
        try {
            answer = inner.infer(admitted);
        } catch (RuntimeException e) {
            ticket.cancel();
            throw e;
        }
        return answer.whenComplete((response, error) -> ticket.write(record(admitted, response, error, start, null)));
    }

    /**
     * The request as its principal may send it: refused if the model is not among the
     * token's models, its residency narrowed to the token's regions.
     *
     * @throws InferenceException.PermissionDenied if the token does not allow the model
     * @throws InferenceException.ResidencyViolation if no region is left
     */
    public static InferenceRequest authorize(InferenceRequest request) {
        Principal p = request.principal();
        if (p == null) {
            return request;
        }
        if (!p.mayUseModel(request.model())) {
            throw new InferenceException.PermissionDenied("the token of '" + p.subject() + "' does not allow model '"
                    + request.model() + "' (it allows " + new TreeSet<>(p.models()) + ")");
        }
        Set<String> residency = p.restrictResidency(request.residency());
        if (residency.isEmpty() && !p.anyRegion()) {
            throw new InferenceException.ResidencyViolation("the token of '" + p.subject() + "' allows regions "
                    + new TreeSet<>(p.regions()) + ", none of them in the request's residency "
                    + new TreeSet<>(request.residency()));
        }
        return residency.equals(request.residency()) ? request : request.withResidency(residency);
    }

    private AuditRecord record(InferenceRequest r, InferenceResponse response, Throwable error, long startNanos,
                               String detail) {
        // the ids are formatted only when a record is kept
        TraceContext t = audit.enabled() ? r.trace() : null;
        return new AuditRecord(Instant.now(), r.id(), r.principal() == null ? null : r.principal().subject(), "infer",
                r.model(), response != null ? response.version() : r.version(),
                response != null ? response.node() : null, response != null ? response.region() : null,
                new ArrayList<>(new TreeSet<>(r.residency())), outcome(error),
                (System.nanoTime() - startNanos) / 1e6, via, detail,
                t == null ? null : t.traceId(), t == null ? null : t.spanIdHex(), t == null ? null : t.parentSpanIdHex());
    }

    /** {@code ok}, or the error's kind in lower case. */
    public static String outcome(Throwable error) {
        if (error == null) {
            return "ok";
        }
        Throwable cause = error;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause instanceof InferenceException ie ? ie.kind().name().toLowerCase(Locale.ROOT) : "internal";
    }
}
