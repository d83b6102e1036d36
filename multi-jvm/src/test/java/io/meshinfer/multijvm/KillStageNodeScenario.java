package io.meshinfer.multijvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.models.DemoModel;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 8, item 4: three nodes, the demo model deployed with {@code stages=3} (two replicas
 * per stage), steady load through the two nodes that survive; kill -9 a node hosting stage
 * replicas mid-load. The entry node holds each stage's input until that stage answers, so
 * a stage replica lost with its node is retried at that stage on the other replica: every
 * request sent is answered, and all succeed.
 */
class KillStageNodeScenario {
    private static final String MODEL = "staged";
    private static final String VERSION = "1";
    private static final int STAGES = 3;

    @RegisterExtension
    final ClusterHarness cluster = new ClusterHarness(KillStageNodeScenario.class);

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void killedStageNodeCostsNoRequest() {
        ScenarioReport report = cluster.report();
        cluster.startNodes(Scenarios.nodes("n1", "n2", "n3"));
        cluster.deployStages(MODEL, VERSION, DemoModel.load(), 2, STAGES);
        Map<String, String> placement = new HashMap<>();
        for (int i = 0; i < STAGES; i++) {
            placement.putAll(cluster.awaitReplicas(MODEL + "~stage-" + i, VERSION, 2, Duration.ofSeconds(60)));
        }
        cluster.awaitReady(MODEL, VERSION, Duration.ofSeconds(30));

        // the victim hosts stage replicas but is not the entry node of the load
        String victim = placement.values().stream().filter(n -> !n.equals("n1")).sorted().findFirst().orElseThrow();
        List<String> entries = Scenarios.without(cluster.names(), victim).stream().sorted().toList();
        LoadDriver load = LoadDriver.builder("load", cluster.gateways(entries.toArray(String[]::new)))
                .model(MODEL).ratePerSecond(25).threads(8).timeout(Duration.ofSeconds(10)).start();
        Scenarios.awaitSuccesses(load, 100, Duration.ofSeconds(60));

        report.line("killing %s (hosts stage replicas: %s) at load +%.1fs; load enters through %s", victim,
                placement, load.now() / 1000, entries);
        double killedAt = load.now();
        cluster.kill(victim);
        for (int i = 0; i < STAGES; i++) {
            cluster.awaitReplicas(MODEL + "~stage-" + i, VERSION, 2, Duration.ofSeconds(60));
        }
        Scenarios.hold(Duration.ofSeconds(5));
        LoadResult result = load.stop();

        report.load(result);
        report.line("requests sent %d, answered %d (ok %d, failed %d %s), unanswered %d; slowest answer in the 15 s"
                        + " after the kill %.0f ms", result.sent(), result.answered(), result.succeeded(),
                result.failed(), result.failedByType(), result.unanswered(),
                result.maxLatencyMillis(killedAt, killedAt + 15_000));
        assertEquals(0, result.unanswered(), "every request answered: " + result.summary());
        assertEquals(0, result.duplicates(), result.summary());
        assertEquals(List.of(), result.untypedFailures(), "failures other than typed errors");
        assertTrue(result.successRate() >= 0.999, "all requests succeed: " + result.summary());
    }
}
