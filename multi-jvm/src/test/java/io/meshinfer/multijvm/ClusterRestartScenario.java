package io.meshinfer.multijvm;

import static io.meshinfer.multijvm.Scenarios.MODEL;
import static io.meshinfer.multijvm.Scenarios.VERSION;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.meshinfer.models.DemoModel;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 5, item 4 (durable catalog): the whole cluster stops and starts again. Three
 * nodes, two versions deployed (version 1 takes the unpinned traffic, version 2 only what
 * is pinned to it); every node is stopped (SIGTERM), then all start again together on
 * their own data directories. Nothing is deployed again: every node's catalog has both
 * versions with the same routing weights as before, the replicas come back, and requests
 * (unpinned, and pinned to version 2) all succeed.
 */
class ClusterRestartScenario {
    private static final String SECOND = "2";

    @RegisterExtension
    final ClusterHarness cluster = new ClusterHarness(ClusterRestartScenario.class);

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void theCatalogSurvivesAStopOfEveryNodeAndServesWithoutRedeploying() {
        ScenarioReport report = cluster.report();
        List<String> names = List.of("n1", "n2", "n3");
        Set<String> all = Scenarios.setOf("n1", "n2", "n3");
        cluster.startNodes(Scenarios.nodes("n1", "n2", "n3"));
        cluster.deploy(MODEL, VERSION, DemoModel.load(), 2, List.of(), 0);
        cluster.deploy(MODEL, SECOND, DemoModel.build(2), 1, List.of(), 0);
        cluster.awaitReplicas(MODEL, VERSION, 2, Duration.ofSeconds(60));
        cluster.awaitReplicas(MODEL, SECOND, 1, Duration.ofSeconds(60));
        ClusterView.ModelRouting before = cluster.view("n1").models().get(MODEL);
        assertEquals(new ClusterView.ModelRouting(MODEL, List.of(VERSION, SECOND), Map.of(VERSION, 100)), before,
                "the catalog before the restart");

        Map<String, Integer> exitCodes = new LinkedHashMap<>();
        for (String n : List.of("n3", "n2", "n1")) {
            exitCodes.put(n, cluster.stop(n));
        }
        cluster.restartAll("n1", "n2", "n3");
        cluster.awaitConverged(all, Duration.ofSeconds(60));

        for (String n : names) {
            assertEquals(before, cluster.view(n).models().get(MODEL), "the catalog on " + n + " after the restart");
        }
        Map<String, String> first = cluster.awaitReplicas(MODEL, VERSION, 2, Duration.ofSeconds(60));
        Map<String, String> second = cluster.awaitReplicas(MODEL, SECOND, 1, Duration.ofSeconds(60));

        LoadResult unpinned;
        LoadResult pinned;
        try (LoadDriver load = LoadDriver.builder("unpinned", cluster.gateways()).ratePerSecond(20).threads(6).start();
             LoadDriver pin = LoadDriver.builder("pinned-v2", cluster.gateways()).version(SECOND).ratePerSecond(10)
                     .threads(3).start()) {
            Scenarios.awaitSuccesses(load, 60, Duration.ofSeconds(30));
            Scenarios.awaitSuccesses(pin, 30, Duration.ofSeconds(30));
            unpinned = load.stop();
            pinned = pin.stop();
        }

        report.load(unpinned);
        report.load(pinned);
        report.line("exit codes after SIGTERM %s; catalog after the restart %s; replicas of %s@%s %s, of @%s %s",
                exitCodes, before, MODEL, VERSION, first, SECOND, second);
        assertEquals(Map.of("n1", 0, "n2", 0, "n3", 0), exitCodes, "a graceful stop exits 0");
        for (LoadResult r : List.of(unpinned, pinned)) {
            assertEquals(0, r.unanswered(), "every request answered: " + r.summary());
            assertEquals(0, r.duplicates(), r.summary());
            assertEquals(List.of(), r.failures(), "no request fails: " + r.summary());
        }
    }
}
