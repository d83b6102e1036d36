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
 * Issue 5, 7: a canary rollout (10, 50, 100 %) across three nodes under steady load
 * completes with zero failed requests; every step is applied once, in order; traffic
 * ends on the new version.
 */
class CanaryRolloutScenario {
    @RegisterExtension
    final ClusterHarness cluster = new ClusterHarness(CanaryRolloutScenario.class);

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void canaryUnderLoadCompletesWithZeroFailedRequests() {
        ScenarioReport report = cluster.report();
        cluster.startNodes(Scenarios.nodes("n1", "n2", "n3"));
        cluster.deploy(MODEL, "1", DemoModel.load(), 2, List.of(), 0);
        cluster.deploy(MODEL, "2", DemoModel.build(7), 2, List.of(), 0);
        cluster.awaitReplicas(MODEL, "1", 2, Duration.ofSeconds(60));
        cluster.awaitReplicas(MODEL, "2", 2, Duration.ofSeconds(60));
        cluster.awaitReadyOnEvery(MODEL, "1", Duration.ofSeconds(30));
        cluster.awaitReadyOnEvery(MODEL, "2", Duration.ofSeconds(30));

        LoadDriver load = LoadDriver.builder("load", cluster.gateways()).ratePerSecond(30).threads(8).start();
        Scenarios.awaitSuccesses(load, 60, Duration.ofSeconds(60));
        Rollouts.start(cluster, "n2", MODEL, "{\"to\":\"2\",\"strategy\":\"canary\",\"steps\":[10,50,100],"
                + "\"stepSeconds\":4,\"gates\":{\"maxErrorRate\":0.01,\"maxP99Ratio\":3,\"minRequests\":10}}");
        JsonNode done = Rollouts.awaitFinishedOnEvery(cluster, "n3", MODEL, "2", Duration.ofSeconds(120));
        double finishedAt = load.now();
        Scenarios.hold(Duration.ofSeconds(3));
        LoadResult result = load.stop();
        report.load(result);
        report.line("served by version: %s", result.servedByVersion());

        assertEquals("completed", done.path("state").asText(), done.toString());
        assertEquals(List.of(1, 2, 3), Rollouts.appliedSteps(done), "each step once, in order: " + done);
        assertEquals(0, result.unanswered(), result.summary());
        assertEquals(0, result.failed(), "zero failed requests: " + result.summary());
        Map<String, Long> byVersion = result.servedByVersion();
        assertTrue(byVersion.getOrDefault("1", 0L) > 0 && byVersion.getOrDefault("2", 0L) > 0, byVersion.toString());
        // every node has the new routing table once it reports the rollout completed
        LoadResult after = result.sentFrom(finishedAt + 1000);
        assertTrue(after.succeeded() > 0, after.summary());
        assertEquals(Map.of("2", after.succeeded()), after.servedByVersion(), "after completion only version 2");
        for (String n : cluster.names()) {
            JsonNode s = Rollouts.status(cluster, n, MODEL);
            assertEquals(Map.of("2", 100), Map.of("2", s.path("weights").path("2").asInt()));
            assertEquals(1, s.path("weights").size(), n + " sees " + s.path("weights"));
        }
    }
}
