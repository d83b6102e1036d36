package io.meshinfer.multijvm;

import static io.meshinfer.multijvm.Scenarios.MODEL;
import static io.meshinfer.multijvm.Scenarios.VERSION;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.models.DemoModel;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 3, 9c: SIGSTOP a node holding one of two replicas until the cluster has downed
 * and removed it, then SIGCONT. Under steady load, as in {@link KillNodeScenario}: at
 * least 99% succeed, the rest are typed errors, none unanswered, the replica comes back on
 * another node; and the paused node, once resumed, finds it was downed and rejoins by
 * itself (self-healing), so the cluster is three Up members again.
 *
 * <p>The load goes to the two other nodes: a frozen process still accepts TCP connections
 * (the kernel does), so a load balancer takes it out by health check, not by refused
 * connections; the driver has no health checks, so the paused node is not a gateway.
 */
class PauseNodeScenario {
    @RegisterExtension
    final ClusterHarness cluster = new ClusterHarness(PauseNodeScenario.class);

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void pausedReplicaHolderIsReplacedAndRejoinsAfterResume() {
        ScenarioReport report = cluster.report();
        cluster.startNodes(Scenarios.nodes("n1", "n2", "n3"));
        Set<String> all = Scenarios.setOf("n1", "n2", "n3");
        cluster.deploy(MODEL, VERSION, DemoModel.load(), 2, List.of(), 0);
        Map<String, String> placement = cluster.awaitReplicas(MODEL, VERSION, 2, Duration.ofSeconds(60));

        String victim = Scenarios.holderPreferringYoungest(cluster, placement);
        Set<String> others = Scenarios.without(all, victim);
        LoadDriver load = LoadDriver.builder("load", cluster.gateways(others.toArray(String[]::new)))
                .ratePerSecond(25).threads(8).start();
        Scenarios.awaitSuccesses(load, 100, Duration.ofSeconds(60));

        double pausedAt = load.now();
        cluster.pause(victim);
        String viewer = others.iterator().next();
        Duration removed = cluster.awaitMembers(viewer, others, Duration.ofSeconds(60));
        Map<String, String> moved = cluster.awaitReplicas(MODEL, VERSION, 2, Duration.ofSeconds(60));
        double fullCapacityAt = load.now();

        double resumedAt = load.now();
        cluster.resume(victim);
        Duration rejoined = cluster.awaitMembers(viewer, all, Duration.ofSeconds(90));
        cluster.awaitMembers(victim, all, Duration.ofSeconds(30));
        Scenarios.hold(Duration.ofSeconds(5));
        LoadResult result = load.stop();

        report.load(result);
        double fullSuccess = result.fullSuccessAgainAfter(pausedAt).orElse(Double.NaN);
        report.line("paused %s (held a replica of %s): removed by the others %.1f s after the pause;"
                        + " full capacity (2 ready replicas %s) %.1f s after the pause; full success rate again"
                        + " %.1f s after the pause; slowest answer in the 15 s after the pause %.0f ms",
                victim, placement, removed.toMillis() / 1000.0, moved, (fullCapacityAt - pausedAt) / 1000,
                (fullSuccess - pausedAt) / 1000, result.maxLatencyMillis(pausedAt, pausedAt + 15_000));
        report.line("%s rejoined %.1f s after SIGCONT", victim, rejoined.toMillis() / 1000.0);
        report.line("after the resume: %s", result.sentFrom(resumedAt).summary());

        assertEquals(0, result.unanswered(), "every request answered: " + result.summary());
        assertEquals(0, result.duplicates(), result.summary());
        assertTrue(result.successRate() >= 0.99, "at least 99% succeed: " + result.summary());
        assertEquals(List.of(), result.untypedFailures(), "failures other than typed errors");
        assertTrue(moved.values().stream().noneMatch(victim::equals), "replica left " + victim + ": " + moved);
        assertTrue(cluster.isAlive(victim), victim + " process still running after being downed");
    }
}
