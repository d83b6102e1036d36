package io.meshinfer.multijvm;

import static io.meshinfer.multijvm.Scenarios.MODEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.meshinfer.models.DemoModel;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 5, 7: faulty new versions are rolled back automatically under load on three nodes.
 * <ol>
 *   <li>A version whose every run fails: the canary's error gate rolls it back during its
 *       first step; the failed requests are its own (typed 500s) and bounded by the canary
 *       share of the traffic while it ran.</li>
 *   <li>A version whose answers differ from the serving one's: a shadow rollout compares
 *       mirrored answers and rolls it back on top-1 disagreement, with zero failed requests
 *       (shadow answers are never returned).</li>
 * </ol>
 */
class FaultyRolloutScenario {
    @RegisterExtension
    final ClusterHarness cluster = new ClusterHarness(FaultyRolloutScenario.class);

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void faultyVersionsAreRolledBackAutomatically() {
        ScenarioReport report = cluster.report();
        cluster.startNodes(Scenarios.nodes("n1", "n2", "n3"));
        cluster.deploy(MODEL, "1", DemoModel.load(), 2, List.of(), 0);
        cluster.deploy(MODEL, "2", DemoModel.failing(), 2, List.of(), 0);
        cluster.deploy(MODEL, "3", DemoModel.build(99), 2, List.of(), 0);
        for (String v : List.of("1", "2", "3")) {
            cluster.awaitReplicas(MODEL, v, 2, Duration.ofSeconds(60));
            cluster.awaitReadyOnEvery(MODEL, v, Duration.ofSeconds(30));
        }
        LoadDriver load = LoadDriver.builder("load", cluster.gateways()).ratePerSecond(30).threads(8).start();
        Scenarios.awaitSuccesses(load, 60, Duration.ofSeconds(60));

        // 1. a version that fails every request
        double canaryAt = load.now();
        Rollouts.start(cluster, "n1", MODEL, "{\"to\":\"2\",\"steps\":[10,50,100],\"stepSeconds\":20,"
                + "\"gates\":{\"maxErrorRate\":0.05,\"minRequests\":10}}");
        JsonNode canary = Rollouts.awaitFinishedOnEvery(cluster, "n2", MODEL, "2", Duration.ofSeconds(90));
        double canaryEnd = load.now();
        assertEquals("rolled_back", canary.path("state").asText(), canary.toString());
        assertTrue(canary.path("reason").asText().contains("error rate"), canary.path("reason").asText());
        assertEquals(List.of(1), Rollouts.appliedSteps(canary), "rolled back in the first step: " + canary);
        Scenarios.hold(Duration.ofSeconds(3));

        // 2. a version whose answers differ, judged in shadow
        double shadowAt = load.now();
        Rollouts.start(cluster, "n3", MODEL, "{\"to\":\"3\",\"strategy\":\"shadow\",\"steps\":[50,100],"
                + "\"stepSeconds\":20,\"gates\":{\"minAgreement\":0.99,\"minRequests\":20}}");
        JsonNode shadow = Rollouts.awaitFinishedOnEvery(cluster, "n1", MODEL, "3", Duration.ofSeconds(90));
        double shadowEnd = load.now();
        Scenarios.hold(Duration.ofSeconds(3));
        LoadResult result = load.stop();
        report.load(result);
        report.line("served by version: %s", result.servedByVersion());

        assertEquals("rolled_back", shadow.path("state").asText(), shadow.toString());
        assertTrue(shadow.path("reason").asText().contains("agreed"), shadow.path("reason").asText());
        assertEquals(Map.of("1", 100), Map.of("1", shadow.path("weights").path("1").asInt()));
        assertEquals(1, shadow.path("weights").size(), shadow.toString());

        assertEquals(0, result.unanswered(), result.summary());
        LoadResult duringCanary = result.sentBetween(canaryAt, canaryEnd + 1000);
        List<Outcome> failures = result.failures();
        report.line("canary: %d requests, %d failed; shadow: %s", duringCanary.sent(), duringCanary.failed(),
                result.sentBetween(shadowAt, shadowEnd).summary());
        assertTrue(failures.stream().allMatch(o -> o.status() == 500 && o.typedBody()),
                "only the faulty version's typed 500s: " + result.failedByType());
        assertEquals(failures.size(), duringCanary.failed(), "failures only during the canary");
        assertTrue(duringCanary.failed() >= 1, "the faulty version did take its canary share");
        assertTrue(duringCanary.failed() <= 0.10 * duringCanary.sent() + 15,
                "failures bounded by the 10% canary share: " + duringCanary.failed() + " of " + duringCanary.sent());
        assertEquals(0, result.sentFrom(shadowAt - 1000).failed(), "shadow never fails a caller: "
                + result.sentFrom(shadowAt).summary());
        assertEquals(Map.of(), Map.copyOf(result.sentFrom(canaryEnd + 1000).servedByVersion().entrySet().stream()
                .filter(e -> !e.getKey().equals("1")).collect(java.util.stream.Collectors.toMap(
                        Map.Entry::getKey, Map.Entry::getValue))), "after the rollback only version 1 answers");
    }
}
