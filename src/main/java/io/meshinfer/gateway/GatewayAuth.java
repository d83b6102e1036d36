package io.meshinfer.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.Principal;
import io.meshinfer.security.AuditLog;
import io.meshinfer.security.AuditRecord;
import io.meshinfer.security.Authenticator;
import java.io.IOException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.HttpChallenge;
import org.apache.pekko.http.javadsl.model.headers.WWWAuthenticate;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.ExceptionHandler;
import org.apache.pekko.http.javadsl.server.RejectionHandler;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * Authentication, permissions and the audit of admin actions, as pekko-http directives
 * around the gateway's routes. With authentication off (no public key) every directive
 * lets the request through with no principal. With it on:
 * <ul>
 *   <li>{@link #authenticated}: a valid bearer token or 401 with {@code WWW-Authenticate:
 *       Bearer} and {@code {"error"}} saying what is wrong (missing, malformed, bad
 *       signature, expired, not yet valid);</li>
 *   <li>{@link #model}: the token's {@code models} must include the model, or 403;</li>
 *   <li>{@link #admin}: role {@code admin} and the model, or 403.</li>
 * </ul>
 * Admin actions (deploy, undeploy, rollout commands) are audited whether or not
 * authentication is on: room for the record is reserved before the action runs (503 when
 * the audit log cannot take it) and the record is written when the answer is known.
 * Refusals (401, 403) are audited when the log has room. Inference itself is authorized
 * and audited by {@link io.meshinfer.routing.EntryPoint}, behind {@link NodeBackend#inference()}.
 */
final class GatewayAuth extends AllDirectives {
    private static final String REALM = "meshinfer";
    private static final Pattern ACTION_WORD = Pattern.compile("[a-z]{1,16}");

    private final Optional<Authenticator> authenticator;
    private final AuditLog audit;
    private final String node;
    private final String region;
    private final ObjectMapper mapper;
    private final ExceptionHandler exceptions;
    private final RejectionHandler rejections;

    /**
     * @param exceptions, rejections the gateway's handlers, applied inside an audited admin
     *     action so that its record sees the answer the caller gets
     */
    GatewayAuth(NodeBackend backend, ObjectMapper mapper, ExceptionHandler exceptions, RejectionHandler rejections) {
        this.authenticator = backend.authenticator();
        this.audit = backend.audit();
        this.node = backend.nodeName();
        this.region = backend.nodeRegion();
        this.mapper = mapper;
        this.exceptions = exceptions;
        this.rejections = rejections;
    }

    /** The caller's principal (empty when authentication is off), or 401. */
    Route authenticated(Function<Optional<Principal>, Route> inner) {
        if (authenticator.isEmpty()) {
            return inner.apply(Optional.empty());
        }
        return optionalHeaderValueByName("Authorization", header -> {
            Authenticator.Result result = authenticator.get().authenticate(header.orElse(null), Instant.now());
            if (result instanceof Authenticator.Authenticated ok) {
                return inner.apply(Optional.of(ok.principal()));
            }
            Authenticator.Refused refused = (Authenticator.Refused) result;
            return extractRequest(request -> {
                audit.offer(new AuditRecord(Instant.now(), InferenceRequest.newId(), null, "authenticate", null, null,
                        node, region, null, "unauthenticated", 0, "http", refused.failure().name()
                        .toLowerCase(Locale.ROOT) + ": " + request.method().value() + " "
                        + request.getUri().path()));
                return complete(unauthorized(refused));
            });
        });
    }

    private HttpResponse unauthorized(Authenticator.Refused refused) {
        Map<String, String> params = new LinkedHashMap<>();
        if (refused.failure() != Authenticator.Failure.MISSING) {
            params.put("error", "invalid_token"); // RFC 6750: no error code when no token was sent
            params.put("error_description", refused.message().replace('"', '\''));
        }
        return error(StatusCodes.UNAUTHORIZED, refused.message())
                .addHeader(WWWAuthenticate.create(HttpChallenge.create("Bearer", REALM, params)));
    }

    /** The inner route when the principal may use {@code model}, else 403. */
    Route model(Optional<Principal> principal, String model, Supplier<Route> inner) {
        if (principal.isEmpty() || principal.get().mayUseModel(model)) {
            return inner.get();
        }
        return forbidden(principal.get(), "read", model, null, modelDenied(principal.get(), model));
    }

    /** The inner route for an admin (authentication off: anyone), else 403. Not audited (fault injection). */
    Route adminOnly(Optional<Principal> principal, Supplier<Route> inner) {
        if (principal.isEmpty() || principal.get().isAdmin()) {
            return inner.get();
        }
        return forbidden(principal.get(), "admin", null, null, "the token of '" + principal.get().subject()
                + "' lacks the role '" + Principal.ADMIN + "'");
    }

    /**
     * An audited admin action: role {@code admin} and the model are required (403), room in
     * the audit log too (503), and one record is written with the answer. A null
     * {@code version} is read from the answer's {@code "to"} (rollout commands answer with
     * the rollout, whose target version is the one acted on).
     */
    Route admin(Optional<Principal> principal, String action, String model, String version, Supplier<Route> inner) {
        if (principal.isPresent()) {
            Principal p = principal.get();
            if (!p.isAdmin()) {
                return forbidden(p, action, model, version, "the token of '" + p.subject() + "' lacks the role '"
                        + Principal.ADMIN + "' needed to " + action.replace('.', ' '));
            }
            if (!p.mayUseModel(model)) {
                return forbidden(p, action, model, version, modelDenied(p, model));
            }
        }
        AuditLog.Ticket ticket = audit.reserve();
        if (ticket == null) {
            return complete(error(StatusCodes.SERVICE_UNAVAILABLE, audit.refusal()));
        }
        long start = System.nanoTime();
        String id = InferenceRequest.newId();
        String subject = principal.map(Principal::subject).orElse(null);
        return mapResponse(response -> {
            ticket.write(new AuditRecord(Instant.now(), id, subject, action, model,
                    version != null ? version : versionIn(response), node, region, null, outcome(response.status()),
                    (System.nanoTime() - start) / 1e6, "http", null));
            return response;
        }, () -> handleExceptions(exceptions, () -> handleRejections(rejections, inner)));
    }

    /** The audit action of a rollout command path segment. */
    static String rolloutAction(String segment) {
        return "rollout." + (ACTION_WORD.matcher(segment).matches() ? segment : "unknown");
    }

    /** Audits a refusal that ran nothing (a request the gateway could not read), when the log has room. */
    void auditRefused(Optional<Principal> principal, String action, String model, String version, String outcome) {
        audit.offer(new AuditRecord(Instant.now(), InferenceRequest.newId(), principal.map(Principal::subject)
                .orElse(null), action, model, version, node, region, null, outcome, 0, "http", null));
    }

    private Route forbidden(Principal p, String action, String model, String version, String message) {
        audit.offer(new AuditRecord(Instant.now(), InferenceRequest.newId(), p.subject(), action, model, version, node,
                region, null, "permission_denied", 0, "http", message));
        return complete(error(StatusCodes.FORBIDDEN, message));
    }

    private static String modelDenied(Principal p, String model) {
        return "the token of '" + p.subject() + "' does not allow model '" + model + "' (it allows "
                + new TreeSet<>(p.models()) + ")";
    }

    private String versionIn(HttpResponse response) {
        if (response.entity() instanceof HttpEntity.Strict strict
                && strict.getContentType().equals(ContentTypes.APPLICATION_JSON)) {
            try {
                JsonNode to = mapper.readTree(strict.getData().toArray()).get("to");
                return to != null && to.isTextual() ? to.asText() : null;
            } catch (IOException e) {
                return null;
            }
        }
        return null;
    }

    /** {@code ok} for a success, else the error kind the status stands for, in lower case. */
    static String outcome(StatusCode status) {
        int code = status.intValue();
        if (code < 400) {
            return "ok";
        }
        return switch (code) {
            case 401 -> "unauthenticated";
            case 403 -> "permission_denied";
            case 404 -> "not_found";
            case 409 -> "conflict";
            case 413 -> "too_large";
            default -> ErrorStatus.kindOf(code).name().toLowerCase(Locale.ROOT);
        };
    }

    private HttpResponse error(StatusCode status, String message) {
        try {
            return HttpResponse.create().withStatus(status).withEntity(HttpEntities.create(
                    ContentTypes.APPLICATION_JSON, mapper.writeValueAsBytes(mapper.createObjectNode()
                            .put("error", message))));
        } catch (IOException e) {
            throw new IllegalStateException("cannot write JSON", e);
        }
    }
}
