package io.meshinfer.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.meshinfer.api.Principal;
import io.meshinfer.registry.ModelEntry;
import io.meshinfer.rollout.Rollout;
import io.meshinfer.rollout.RolloutManager;
import io.meshinfer.rollout.RolloutSettings;
import io.meshinfer.rollout.RolloutSpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;

/**
 * The rollout surface: {@code POST /v1/models/{m}/rollout} starts one (JSON spec),
 * {@code GET /v1/models/{m}/rollout} shows it (from this node's replicated catalog), and
 * {@code POST /v1/models/{m}/rollout/{pause,resume,promote,abort}} are the operator
 * commands. Changes go to the rollout manager singleton through the node backend; they
 * need role {@code admin} when authentication is on, and are audited.
 */
final class RolloutRoutes extends AllDirectives {
    private static final long MAX_SPEC_BYTES = 64 * 1024;
    private static final Set<String> SPEC_FIELDS = Set.of("to", "strategy", "steps", "stepSeconds", "gates");
    private static final Set<String> GATE_FIELDS = Set.of("maxErrorRate", "maxP99Ratio", "minAgreement", "maxAbsDiff",
            "minRequests");

    private final NodeBackend backend;
    private final ObjectMapper mapper;

    RolloutRoutes(NodeBackend backend, ObjectMapper mapper) {
        this.backend = backend;
        this.mapper = mapper;
    }

    /** Routes under {@code /v1/models/{model}/rollout}, for {@code principal} (empty: authentication off). */
    Route route(String model, Optional<Principal> principal, GatewayAuth auth) {
        String by = principal.map(Principal::subject).orElse("anonymous");
        return concat(
                pathEnd(() -> concat(
                        get(() -> status(model)),
                        post(() -> auth.admin(principal, "rollout.start", model, null,
                                () -> withSizeLimit(MAX_SPEC_BYTES, () -> entity(Unmarshaller.entityToString(),
                                        body -> start(model, body, by))))))),
                path(PathMatchers.segment(), action -> post(() -> auth.admin(principal,
                        GatewayAuth.rolloutAction(action), model, null, () -> control(model, action, by)))));
    }

    private Route status(String model) {
        Optional<ModelEntry> entry = backend.catalog().model(model);
        if (entry.isEmpty()) {
            return complete(error(StatusCodes.NOT_FOUND, "model '" + model + "' is not deployed"));
        }
        if (entry.get().rollout() == null) {
            return complete(error(StatusCodes.NOT_FOUND, "model '" + model + "' has had no rollout"));
        }
        return complete(json(StatusCodes.OK, toJson(entry.get(), entry.get().rollout())));
    }

    private Route start(String model, String body, String by) {
        RolloutSpec spec;
        try {
            spec = parse(body, backend.rolloutSettings());
        } catch (IllegalArgumentException e) {
            return complete(error(StatusCodes.BAD_REQUEST, e.getMessage()));
        }
        return completeWithFuture(backend.startRollout(model, spec, by)
                .thenApply(reply -> answer(model, reply, StatusCodes.ACCEPTED)));
    }

    private Route control(String model, String actionName, String by) {
        RolloutManager.Action action;
        try {
            action = RolloutManager.Action.valueOf(actionName.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            return complete(error(StatusCodes.NOT_FOUND, "unknown rollout command '" + actionName
                    + "': use pause, resume, promote or abort"));
        }
        return completeWithFuture(backend.controlRollout(model, action, by)
                .thenApply(reply -> answer(model, reply, StatusCodes.OK)));
    }

    private HttpResponse answer(String model, RolloutManager.Reply reply, StatusCode success) {
        if (!reply.ok()) {
            StatusCode status = switch (reply.outcome()) {
                case INVALID -> StatusCodes.BAD_REQUEST;
                case NOT_FOUND -> StatusCodes.NOT_FOUND;
                case CONFLICT -> StatusCodes.CONFLICT;
                default -> StatusCodes.SERVICE_UNAVAILABLE;
            };
            return error(status, reply.message());
        }
        ModelEntry entry = backend.catalog().model(model).orElse(null);
        Rollout r = entry != null && entry.rollout() != null ? entry.rollout() : reply.rollout();
        return json(success, toJson(entry, r));
    }

    /** Parses a rollout spec, filling what it leaves out from the node's defaults. */
    static RolloutSpec parse(String body, RolloutSettings defaults) {
        JsonNode n;
        try {
            n = new ObjectMapper().readTree(body);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("the rollout spec is not valid JSON: " + e.getOriginalMessage());
        }
        if (n == null || !n.isObject()) {
            throw new IllegalArgumentException("the rollout spec must be a JSON object");
        }
        unknownFields(n, SPEC_FIELDS, "rollout spec");
        JsonNode to = n.get("to");
        if (to == null || !to.isTextual()) {
            throw new IllegalArgumentException("\"to\" (the version to roll out) must be a string");
        }
        RolloutSpec.Strategy strategy = n.has("strategy")
                ? RolloutSpec.Strategy.parse(n.get("strategy").asText()) : RolloutSpec.Strategy.CANARY;
        List<Integer> steps = new ArrayList<>(defaults.defaultSteps());
        if (n.has("steps")) {
            JsonNode s = n.get("steps");
            if (!s.isArray()) {
                throw new IllegalArgumentException("\"steps\" must be an array of percentages");
            }
            steps.clear();
            for (JsonNode v : s) {
                if (!v.isInt()) {
                    throw new IllegalArgumentException("\"steps\" must be integer percentages, got " + v);
                }
                steps.add(v.intValue());
            }
        }
        long stepMillis = defaults.defaultStep().toMillis();
        if (n.has("stepSeconds")) {
            JsonNode s = n.get("stepSeconds");
            if (!s.isNumber() || s.doubleValue() < 0 || s.doubleValue() > 7 * 24 * 3600) {
                throw new IllegalArgumentException("\"stepSeconds\" must be a number of seconds from 0 to 604800");
            }
            stepMillis = Math.round(s.doubleValue() * 1000);
        }
        JsonNode g = n.has("gates") ? n.get("gates") : mapperless();
        if (!g.isObject()) {
            throw new IllegalArgumentException("\"gates\" must be an object");
        }
        unknownFields(g, GATE_FIELDS, "gates");
        Double minAgreementDefault = strategy == RolloutSpec.Strategy.SHADOW && !g.has("maxAbsDiff")
                ? defaults.minAgreement() : null;
        RolloutSpec.Gates gates = new RolloutSpec.Gates(
                gate(g, "maxErrorRate", defaults.maxErrorRate(), 0, 1),
                gate(g, "maxP99Ratio", defaults.maxP99Ratio(), 1, 1000),
                gate(g, "minAgreement", minAgreementDefault, 0, 1),
                gate(g, "maxAbsDiff", null, 0, Double.MAX_VALUE),
                g.has("minRequests") ? count(g.get("minRequests")) : defaults.minRequests());
        return new RolloutSpec(to.asText(), strategy, steps, stepMillis, gates);
    }

    private static JsonNode mapperless() {
        return new ObjectMapper().createObjectNode();
    }

    private static void unknownFields(JsonNode n, Set<String> known, String what) {
        JsonReplies.unknownFields(n, known, what);
    }

    private static Double gate(JsonNode g, String name, Double dflt, double min, double max) {
        if (!g.has(name)) {
            return dflt;
        }
        JsonNode v = g.get(name);
        if (v.isNull()) {
            return null; // explicitly off
        }
        if (!v.isNumber() || v.doubleValue() < min || v.doubleValue() > max) {
            throw new IllegalArgumentException("gate \"" + name + "\" must be a number from " + min + " to " + max
                    + " (or null to turn it off), got " + v);
        }
        return v.doubleValue();
    }

    private static int count(JsonNode v) {
        if (!v.isInt() || v.intValue() < 0) {
            throw new IllegalArgumentException("gate \"minRequests\" must be a non-negative integer, got " + v);
        }
        return v.intValue();
    }

    /** The status document of a model's rollout (its latest one). */
    ObjectNode toJson(ModelEntry entry, Rollout r) {
        ObjectNode n = mapper.createObjectNode();
        if (r == null) {
            return n;
        }
        n.put("model", r.model());
        n.put("state", r.status().wireName());
        n.put("from", r.from());
        n.put("to", r.to());
        n.put("strategy", r.spec().strategy().wireName());
        n.put("step", r.step() + 1);
        ArrayNode steps = n.putArray("steps");
        r.spec().steps().forEach(steps::add);
        n.put("stepSeconds", r.spec().stepMillis() / 1000.0);
        n.put("percent", r.percent());
        ObjectNode weights = n.putObject("weights");
        if (entry != null) {
            new TreeMap<>(entry.weights()).forEach(weights::put);
            n.put("epoch", entry.epoch());
        }
        n.put("reason", r.reason());
        n.put("startedBy", r.startedBy());
        n.put("startedAt", Instant.ofEpochMilli(r.startedAtMillis()).toString());
        n.put("updatedAt", Instant.ofEpochMilli(r.updatedAtMillis()).toString());
        ObjectNode gates = n.putObject("gates");
        RolloutSpec.Gates g = r.spec().gates();
        putGate(gates, "maxErrorRate", g.maxErrorRate());
        putGate(gates, "maxP99Ratio", g.maxP99Ratio());
        putGate(gates, "minAgreement", g.minAgreement());
        putGate(gates, "maxAbsDiff", g.maxAbsDiff());
        gates.put("minRequests", g.minRequests());
        ArrayNode history = n.putArray("history");
        for (Rollout.Event e : r.history()) {
            ObjectNode h = history.addObject();
            h.put("at", Instant.ofEpochMilli(e.atMillis()).toString());
            h.put("step", e.step() + 1);
            h.put("event", e.what());
            ObjectNode w = h.putObject("weights");
            new TreeMap<>(e.weights()).forEach(w::put);
        }
        return n;
    }

    private static void putGate(ObjectNode n, String name, Double v) {
        if (v == null) {
            n.putNull(name);
        } else {
            n.put(name, v);
        }
    }

    private HttpResponse error(StatusCode status, String message) {
        return json(status, mapper.createObjectNode().put("error", message));
    }

    private HttpResponse json(StatusCode status, ObjectNode body) {
        return JsonReplies.json(mapper, status, body);
    }

}
