package io.meshinfer.multijvm;

import static io.meshinfer.multijvm.Scenarios.MODEL;
import static io.meshinfer.multijvm.Scenarios.VERSION;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.models.DemoModel;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 3, 9b: five nodes split 3|2 under load (a real network cut: Artery test-mode
 * blackholes on both sides). The split brain resolver downs the minority; the majority
 * keeps serving (at least 99% of its requests succeed, the rest typed errors); the
 * minority keeps answering its own requests from its local replicas in island mode, saying
 * so; after the heal the minority nodes rejoin by themselves and the cluster is five Up
 * members again.
 *
 * <p>The model has five replicas, so every node holds one (anti-affinity) and the
 * minority has local replicas to serve from. The majority's load goes to n1-n3, the
 * minority's to n4-n5, each through its own driver.
 */
class PartitionScenario {
    private static final Set<String> MAJORITY = Scenarios.setOf("n1", "n2", "n3");
    private static final Set<String> MINORITY = Scenarios.setOf("n4", "n5");
    private static final Set<String> ALL = Scenarios.setOf("n1", "n2", "n3", "n4", "n5");

    @RegisterExtension
    final ClusterHarness cluster = new ClusterHarness(PartitionScenario.class);

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void majorityKeepsServingMinorityServesInIslandModeAndRejoinsAfterHeal() {
        ScenarioReport report = cluster.report();
        cluster.startNodes(
                new ClusterHarness.NodeSpec("n1", "region-a", "zone-1"),
                new ClusterHarness.NodeSpec("n2", "region-a", "zone-2"),
                new ClusterHarness.NodeSpec("n3", "region-a", "zone-3"),
                new ClusterHarness.NodeSpec("n4", "region-b", "zone-4"),
                new ClusterHarness.NodeSpec("n5", "region-b", "zone-5"));
        cluster.awaitMembers("n1", ALL, Duration.ofSeconds(60));
        cluster.deploy(MODEL, VERSION, DemoModel.load(), 5, List.of(), 0);
        cluster.awaitReplicas(MODEL, VERSION, 5, Duration.ofSeconds(90));

        LoadDriver majorityLoad = LoadDriver.builder("majority", cluster.gateways("n1", "n2", "n3"))
                .ratePerSecond(15).threads(6).start();
        LoadDriver minorityLoad = LoadDriver.builder("minority", cluster.gateways("n4", "n5"))
                .ratePerSecond(8).threads(4).start();
        Scenarios.awaitSuccesses(majorityLoad, 50, Duration.ofSeconds(60));
        Scenarios.awaitSuccesses(minorityLoad, 25, Duration.ofSeconds(60));

        double cutAt = majorityLoad.now();
        double minorityCutAt = minorityLoad.now();
        cluster.partition(MAJORITY, MINORITY);
        Map<String, Double> islandSince = new HashMap<>();
        await("minority nodes report island mode").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(250))
                .ignoreExceptionsMatching(e -> !(e instanceof ClusterHarness.NodeDied))
                .untilAsserted(() -> {
                    for (String n : MINORITY) {
                        if (!islandSince.containsKey(n)) {
                            ClusterView v = cluster.view(n);
                            assertTrue(v.hasIslandMode(), "GET /v1/cluster of " + n + " has no islandMode field");
                            if (v.islandMode()) {
                                islandSince.put(n, minorityLoad.now());
                            }
                        }
                    }
                    assertEquals(MINORITY, islandSince.keySet());
                });
        double islandAt = islandSince.values().stream().mapToDouble(Double::doubleValue).max().orElseThrow();
        report.line("minority in island mode %.1f s after the cut", (islandAt - minorityCutAt) / 1000);
        Duration downed = cluster.awaitMembers("n1", MAJORITY, Duration.ofSeconds(60));
        double downedAt = minorityLoad.now();
        report.line("the majority removed the minority %.1f s after it reported island mode",
                downed.toMillis() / 1000.0);
        Scenarios.hold(Duration.ofSeconds(8));

        Map<String, Long> islandCounts = new HashMap<>();
        for (String n : MINORITY) {
            islandCounts.put(n, cluster.view(n).islandCount(MODEL));
        }
        report.line("island-mode requests by the minority's own counters: %s", islandCounts);

        double healAt = minorityLoad.now();
        double majorityHealAt = majorityLoad.now();
        cluster.heal();
        Duration rejoined = cluster.awaitMembers("n1", ALL, Duration.ofSeconds(90));
        cluster.awaitMembers("n4", ALL, Duration.ofSeconds(30));
        cluster.awaitMembers("n5", ALL, Duration.ofSeconds(30));
        report.line("five Up members again %.1f s after the heal", rejoined.toMillis() / 1000.0);
        Scenarios.hold(Duration.ofSeconds(5));
        LoadResult majority = majorityLoad.stop();
        LoadResult minority = minorityLoad.stop();
        report.load(majority);
        report.load(minority);

        LoadResult island = minority.sentBetween(islandAt, healAt);
        report.line("minority requests sent while in island mode: %s", island.summary());
        report.line("  of which while still members: %s", minority.sentBetween(islandAt, downedAt).summary());
        report.line("  of which after being removed: %s", minority.sentBetween(downedAt, healAt).summary());
        report.line("majority: first failure after the cut %s, full success rate again %.1f s after the cut;"
                        + " after the heal: %s",
                majority.firstFailureAfter(cutAt).isPresent() ? String.format("%.1f s",
                        (majority.firstFailureAfter(cutAt).getAsDouble() - cutAt) / 1000) : "none",
                (majority.fullSuccessAgainAfter(cutAt).orElse(Double.NaN) - cutAt) / 1000,
                majority.sentFrom(majorityHealAt).summary());

        assertEquals(0, majority.unanswered(), majority.summary());
        assertEquals(0, minority.unanswered(), minority.summary());
        assertEquals(0, majority.duplicates() + minority.duplicates());
        assertTrue(majority.successRate() >= 0.99, "the majority keeps serving: " + majority.summary());
        assertEquals(List.of(), majority.untypedFailures(), "majority failures other than typed errors");
        assertEquals(List.of(), minority.untypedFailures(), "minority failures other than typed errors");
        assertTrue(island.answered() > 0, "requests were sent to the minority while it was an island");
        assertTrue(island.successRate() >= 0.99, "the minority serves its local requests: " + island.summary());
        Set<String> notLocal = new TreeSet<>();
        for (Outcome o : island.outcomes()) {
            if (o.ok() && (!o.island() || !o.node().equals(o.gateway()))) {
                notLocal.add(o.toString());
            }
        }
        assertEquals(Set.of(), notLocal, "island answers come from the gateway's own replica, marked island");
        for (String n : MINORITY) {
            assertTrue(islandCounts.get(n) > 0, n + " counted island-mode requests itself: " + islandCounts);
        }
        assertTrue(majority.outcomes().stream().filter(o -> o.ok() && o.startMillis() > cutAt + 1000)
                .noneMatch(o -> o.island()), "the majority never answers in island mode");
    }
}
