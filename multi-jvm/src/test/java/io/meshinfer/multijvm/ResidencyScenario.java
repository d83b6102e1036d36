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
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 3, 9e: two regions; requests whose residency allows only region A are never served
 * in region B, not even when every region-A replica is down. Verified from each node's own
 * {@code served} counters in {@code GET /v1/cluster}, not only from the client's view.
 *
 * <p>a1 is region A, b1 and b2 region B; the model is allowed in both regions with three
 * replicas, so a1 holds the only region-A replica. Phase 1 (all up): region-A requests
 * through all three gateways all succeed, all served by a1, and the nodes' counters add up
 * to exactly the client's successes, with zero in region B. Phase 2 (a1 killed): region-A
 * requests through b1 and b2 get typed errors (403 residency, 503 unavailable, or 504 while
 * a1 is not yet known to be unreachable), none succeeds, and b1's and b2's counters for
 * region-A requests stay at zero, while unrestricted requests keep succeeding.
 */
class ResidencyScenario {
    private static final Set<String> ONLY_A = Set.of("region-a");

    @RegisterExtension
    final ClusterHarness cluster = new ClusterHarness(ResidencyScenario.class);

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void requestsRestrictedToRegionANeverRunInRegionB() {
        ScenarioReport report = cluster.report();
        cluster.startNodes(
                new ClusterHarness.NodeSpec("a1", "region-a", "a-zone-1"),
                new ClusterHarness.NodeSpec("b1", "region-b", "b-zone-1"),
                new ClusterHarness.NodeSpec("b2", "region-b", "b-zone-2"));
        cluster.deploy(MODEL, VERSION, DemoModel.load(), 3, List.of("region-a", "region-b"), 0);
        Map<String, String> placement = cluster.awaitReplicas(MODEL, VERSION, 3, Duration.ofSeconds(60));
        assertTrue(placement.containsValue("a1"), "a1 holds the region-A replica: " + placement);

        // Phase 1: everything up.
        LoadDriver onlyA = LoadDriver.builder("region-a-only", cluster.gateways()).ratePerSecond(15).threads(4)
                .residency(List.copyOf(ONLY_A)).start();
        LoadDriver anywhere = LoadDriver.builder("unrestricted", cluster.gateways()).ratePerSecond(5).threads(2)
                .start();
        Scenarios.awaitSuccesses(onlyA, 120, Duration.ofSeconds(60));
        LoadResult phase1 = onlyA.stop();
        LoadResult phase1Any = anywhere.stop();
        report.load(phase1);
        report.load(phase1Any);
        Map<String, Long> counted1 = servedOnlyA(Set.of("a1", "b1", "b2"));
        report.line("phase 1: region-A-only requests by the nodes' own counters: %s; client saw %d successes",
                counted1, phase1.succeeded());

        assertEquals(0, phase1.unanswered(), phase1.summary());
        assertEquals(phase1.sent(), phase1.succeeded(), "all region-A requests succeed while a1 is up: "
                + phase1.summary());
        assertEquals(Map.of("a1", phase1.succeeded()), phase1.servedBy(), "client view: served only by a1");
        assertEquals(0L, counted1.get("b1"), "b1 served no region-A-only request: " + counted1);
        assertEquals(0L, counted1.get("b2"), "b2 served no region-A-only request: " + counted1);
        assertEquals(phase1.succeeded(), counted1.get("a1"), "a1 counted every region-A-only request it served");

        // Phase 2: every region-A replica down.
        cluster.kill("a1");
        LoadDriver onlyA2 = LoadDriver.builder("region-a-only-after-kill", cluster.gateways("b1", "b2"))
                .ratePerSecond(15).threads(4).residency(List.copyOf(ONLY_A)).start();
        LoadDriver anywhere2 = LoadDriver.builder("unrestricted-after-kill", cluster.gateways("b1", "b2"))
                .ratePerSecond(5).threads(2).start();
        cluster.awaitMembers("b1", Set.of("b1", "b2"), Duration.ofSeconds(60));
        Scenarios.hold(Duration.ofSeconds(8));
        LoadResult phase2 = onlyA2.stop();
        LoadResult phase2Any = anywhere2.stop();
        report.load(phase2);
        report.load(phase2Any);
        Map<String, Long> counted2 = servedOnlyA(Set.of("b1", "b2"));
        report.line("phase 2: region-A-only requests by b1's and b2's own counters: %s", counted2);

        assertEquals(0, phase2.unanswered(), phase2.summary());
        assertEquals(Map.of(), phase2.servedBy(), "no region-A-only request succeeds without region A");
        assertEquals(List.of(), phase2.failures().stream()
                        .filter(o -> !(o.typed() && Set.of(403, 503, 504).contains(o.status()))).toList(),
                "region-A-only requests get a typed error: residency (403), unavailable (503) or, while a1 is"
                        + " not yet known to be unreachable, deadline exceeded (504)");
        assertEquals(Map.of("b1", 0L, "b2", 0L), counted2, "region B served no region-A-only request");
        assertEquals(0, phase2Any.unanswered(), phase2Any.summary());
        assertTrue(phase2Any.successRate() >= 0.99, "unrestricted requests keep succeeding: " + phase2Any.summary());
    }

    /** Each node's own count of served requests whose residency was exactly region A. */
    private Map<String, Long> servedOnlyA(Set<String> nodes) {
        Map<String, Long> counts = new TreeMap<>();
        for (String n : nodes) {
            ClusterView v = cluster.view(n);
            assertTrue(v.hasServedCounters(), "GET /v1/cluster of " + n + " has no \"served\" counters");
            counts.put(n, v.servedCount(MODEL, VERSION, ONLY_A));
        }
        return counts;
    }
}
