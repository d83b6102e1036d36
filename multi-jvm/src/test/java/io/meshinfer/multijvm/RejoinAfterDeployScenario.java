package io.meshinfer.multijvm;

import static io.meshinfer.multijvm.Scenarios.MODEL;
import static io.meshinfer.multijvm.Scenarios.VERSION;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.models.DemoModel;
import io.meshinfer.registry.ArtifactStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 5: a node misses a deploy. Three nodes serve version 1; one is stopped (SIGTERM),
 * version 2 (other bytes, three replicas) is deployed while it is down, and it is started
 * again. It has never seen version 2's artifact: it fetches it from a peer (it is in its
 * store afterwards, intact) and hosts a replica of version 2 that serves, shown by requests
 * pinned to version 2 through its gateway, all answered by it. Load on version 1 through
 * the other two nodes runs throughout: every request is answered and none fails.
 */
class RejoinAfterDeployScenario {
    private static final String NEW_VERSION = "2";

    @RegisterExtension
    final ClusterHarness cluster = new ClusterHarness(RejoinAfterDeployScenario.class);

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void aNodeThatMissedADeployFetchesTheArtifactFromAPeerAndServesTheNewVersion() throws Exception {
        ScenarioReport report = cluster.report();
        cluster.startNodes(Scenarios.nodes("n1", "n2", "n3"));
        cluster.deploy(MODEL, VERSION, DemoModel.load(), 3, List.of(), 0);
        cluster.awaitReplicas(MODEL, VERSION, 3, Duration.ofSeconds(60));

        LoadDriver load = LoadDriver.builder("load", cluster.gateways("n1", "n2")).ratePerSecond(20).threads(6)
                .readinessProbe(Duration.ofMillis(250)).start();
        Scenarios.awaitSuccesses(load, 40, Duration.ofSeconds(30));

        String late = "n3";
        int exit = cluster.stop(late);
        byte[] onnx = DemoModel.build(2);
        String sha = ArtifactStore.sha256(onnx);
        Path stored = cluster.dataDir(late).resolve("artifacts").resolve(sha + ".onnx");
        cluster.deploy(MODEL, NEW_VERSION, onnx, 3, List.of(), 0);
        Duration readyWhileDown = cluster.awaitReady(MODEL, NEW_VERSION, Duration.ofSeconds(30));
        assertFalse(Files.exists(stored), late + " was down during the deploy: it cannot have the artifact yet");

        double restartedAt = load.now();
        cluster.restart(late);
        Map<String, String> placement = cluster.awaitReplicas(MODEL, NEW_VERSION, 3, Duration.ofSeconds(60));
        double placedAt = load.now();
        assertTrue(placement.containsValue(late), late + " hosts a ready replica of version 2: " + placement);
        assertTrue(Files.exists(stored), "the artifact is in " + late + "'s store");
        assertEquals(sha, ArtifactStore.sha256(stored), "and it is intact");
        assertTrue(cluster.logContains(late, "fetched artifact " + sha), late + "'s log names the fetch");

        LoadResult pinned;
        try (LoadDriver pin = LoadDriver.builder("pinned-v2", cluster.gateways(late)).version(NEW_VERSION)
                .ratePerSecond(20).threads(4).start()) {
            Scenarios.awaitSuccesses(pin, 40, Duration.ofSeconds(30));
            pinned = pin.stop();
        }
        LoadResult result = load.stop();

        report.load(result);
        report.load(pinned);
        report.line("exit code of %s after SIGTERM %d; version 2 ready on the others %.1f s after its deploy;"
                        + " replicas of version 2 %s, %.1f s after %s was started again", late, exit,
                readyWhileDown.toMillis() / 1000.0, placement, (placedAt - restartedAt) / 1000, late);
        assertEquals(0, exit, "a graceful stop exits 0");
        assertEquals(0, result.unanswered(), "every request answered: " + result.summary());
        assertEquals(0, result.duplicates(), result.summary());
        assertEquals(List.of(), result.failures(), "no request fails: " + result.summary());
        assertEquals(0, pinned.unanswered(), "every pinned request answered: " + pinned.summary());
        assertEquals(List.of(), pinned.failures(), "no pinned request fails: " + pinned.summary());
        assertEquals(Map.of(late, pinned.succeeded()), pinned.servedBy(),
                "requests pinned to version 2 through " + late + " are served by " + late);
    }
}
