package io.meshinfer.multijvm;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;

/** Starts and watches rollouts through a node's gateway ({@code /v1/models/{m}/rollout}). */
final class Rollouts {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final NodeHttp HTTP = new NodeHttp();
    private static final Duration CALL = Duration.ofSeconds(20);

    private Rollouts() {
    }

    /** Starts a rollout through {@code via}; fails the test unless it is accepted (202). */
    static JsonNode start(ClusterHarness cluster, String via, String model, String spec) {
        NodeHttp.Reply r = HTTP.postJson(cluster.httpUrl(via) + "/v1/models/" + model + "/rollout", spec, CALL);
        assertEquals(202, r.status(), "rollout start through " + via + ": " + r.body());
        cluster.report().line("rollout of %s started through %s: %s", model, via, spec);
        return json(r.body());
    }

    /** The model's rollout as {@code via} sees it, or null when it answers otherwise than 200. */
    static JsonNode status(ClusterHarness cluster, String via, String model) {
        NodeHttp.Reply r = HTTP.get(cluster.httpUrl(via) + "/v1/models/" + model + "/rollout", CALL);
        return r.status() == 200 ? json(r.body()) : null;
    }

    /** Waits until {@code via} shows the rollout in a state matching {@code until}; returns that status. */
    static JsonNode awaitStatus(ClusterHarness cluster, String via, String model, String what, Predicate<JsonNode> until,
                          Duration timeout) {
        AtomicReference<JsonNode> last = new AtomicReference<>();
        try {
            await("rollout of " + model + " " + what).atMost(timeout)
                    .pollInterval(Duration.ofMillis(250)).ignoreExceptions().until(() -> {
                        JsonNode s = status(cluster, via, model);
                        last.set(s);
                        return s != null && until.test(s);
                    });
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError(e.getMessage() + "; last seen through " + via + ": " + last.get(), e);
        }
        return last.get();
    }

    /** Waits until the rollout is no longer running or paused. */
    static JsonNode awaitFinished(ClusterHarness cluster, String via, String model, Duration timeout) {
        JsonNode s = awaitStatus(cluster, via, model, "finished", n -> {
            String state = n.path("state").asText();
            return state.equals("completed") || state.equals("rolled_back");
        }, timeout);
        cluster.report().line("rollout of %s %s: %s", model, s.path("state").asText(), s.path("reason").asText());
        for (JsonNode e : s.path("history")) {
            cluster.report().line("  %s  %s  %s", e.path("at").asText(), e.path("event").asText(), e.path("weights"));
        }
        return s;
    }

    /**
     * Waits until the rollout to {@code to} has finished as {@code via} sees it (returned), then
     * until every other running member shows it finished too: the manager writes to a majority,
     * and the rest learn of it by gossip a moment later.
     */
    static JsonNode awaitFinishedOnEvery(ClusterHarness cluster, String via, String model, String to,
                                         Duration timeout) {
        Predicate<JsonNode> finished = n -> to.equals(n.path("to").asText())
                && (n.path("state").asText().equals("completed") || n.path("state").asText().equals("rolled_back"));
        awaitStatus(cluster, via, model, "to " + to + " finished", finished, timeout);
        JsonNode s = awaitFinished(cluster, via, model, timeout);
        for (String n : cluster.runningNames()) {
            if (!n.equals(via)) {
                awaitStatus(cluster, n, model, "to " + to + " finished", finished, timeout);
            }
        }
        return s;
    }

    /** The step numbers (1-based) of the applied-step events, in the order they happened. */
    static List<Integer> appliedSteps(JsonNode status) {
        List<Integer> steps = new ArrayList<>();
        for (JsonNode e : status.path("history")) {
            if (e.path("event").asText().startsWith("step ")) {
                steps.add(e.path("step").asInt());
            }
        }
        return steps;
    }

    /** When the rollout last changed, as the driver's clock can't know it: the status's updatedAt. */
    static long updatedAtMillis(JsonNode status) {
        return java.time.Instant.parse(status.path("updatedAt").asText()).toEpochMilli();
    }

    private static JsonNode json(String body) {
        try {
            return MAPPER.readTree(body);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
