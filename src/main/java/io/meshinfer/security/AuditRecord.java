package io.meshinfer.security;

import java.time.Instant;
import java.util.List;

/**
 * One audited event, before it is chained: never a payload (no tensor, no model file),
 * only who did what to which model, where it was served and how it ended. Fields that do
 * not apply are null.
 *
 * @param id the request id (inference), or a fresh id (admin actions)
 * @param principal the token's subject; null when the caller presented none (authentication
 *     off, an in-process Java caller, or a refused request)
 * @param action {@code infer}, {@code serve} (a replica serving a request that entered at
 *     another node), {@code deploy}, {@code undeploy}, {@code rollout.start},
 *     {@code rollout.pause}, ..., {@code authenticate} (a refused token)
 * @param node the serving node (inference) or the node that took the action
 * @param region that node's region
 * @param residency the regions the request was held to (empty: any)
 * @param outcome {@code ok}, or the error kind in lower case ({@code residency_violation},
 *     {@code permission_denied}, {@code unauthenticated}, {@code overloaded}, ...)
 * @param latencyMillis from entering the node to the answer
 * @param via how the request arrived: {@code http}, {@code java} (in-process client) or
 *     {@code cluster} (from another node's router)
 * @param detail why a request was refused (authentication and permission failures only)
 * @param traceId the request's W3C trace id (32 hex digits); null for records about no request
 * @param spanId the span of the node writing the record (16 hex digits), or null
 * @param parentSpanId the span that called it (the caller's, or the entry node's for a
 *     {@code serve} record), or null when the trace started at this node
 */
public record AuditRecord(
        Instant time,
        String id,
        String principal,
        String action,
        String model,
        String version,
        String node,
        String region,
        List<String> residency,
        String outcome,
        double latencyMillis,
        String via,
        String detail,
        String traceId,
        String spanId,
        String parentSpanId) {

    public AuditRecord {
        if (time == null || action == null || outcome == null) {
            throw new IllegalArgumentException("an audit record needs a time, an action and an outcome");
        }
        residency = residency == null ? List.of() : List.copyOf(residency);
    }

    /** A record about no traced request. */
    public AuditRecord(Instant time, String id, String principal, String action, String model, String version,
                       String node, String region, List<String> residency, String outcome, double latencyMillis,
                       String via, String detail) {
        this(time, id, principal, action, model, version, node, region, residency, outcome, latencyMillis, via, detail,
                null, null, null);
    }
}
