package io.meshinfer.multijvm;

import static io.meshinfer.multijvm.Scenarios.MODEL;
import static io.meshinfer.multijvm.Scenarios.VERSION;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
 * Issue 5: a node's stored artifact rots on disk. Three nodes, one replica of the version
 * on each; the bytes of the artifact file in one node's data directory are flipped, then
 * that node is killed (-9) and started again on the same data directory, so it must load
 * the file again. It detects the corruption by hash (and says so in its log), deletes the
 * file, fetches the artifact from a peer, and hosts a ready replica again; the file on its
 * disk hashes right again. Load through the two other nodes runs throughout: every
 * request is answered and none fails.
 */
class CorruptArtifactScenario {
    @RegisterExtension
    final ClusterHarness cluster = new ClusterHarness(CorruptArtifactScenario.class);

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void aCorruptArtifactIsDetectedFetchedAgainFromAPeerAndServedWithoutAFailedRequest() throws Exception {
        ScenarioReport report = cluster.report();
        cluster.startNodes(Scenarios.nodes("n1", "n2", "n3"));
        byte[] onnx = DemoModel.load();
        String sha = ArtifactStore.sha256(onnx);
        cluster.deploy(MODEL, VERSION, onnx, 3, List.of(), 0);
        Map<String, String> placement = cluster.awaitReplicas(MODEL, VERSION, 3, Duration.ofSeconds(60));

        String victim = "n3";
        Path file = cluster.dataDir(victim).resolve("artifacts").resolve(sha + ".onnx");
        assertEquals(sha, ArtifactStore.sha256(file), "the artifact is stored intact on " + victim);

        LoadDriver load = LoadDriver.builder("load", cluster.gateways("n1", "n2")).ratePerSecond(25).threads(8)
                .start();
        Scenarios.awaitSuccesses(load, 50, Duration.ofSeconds(30));

        byte[] bytes = Files.readAllBytes(file);
        for (int i = bytes.length / 2; i < bytes.length / 2 + 64; i++) {
            bytes[i] ^= (byte) 0xff;
        }
        Files.write(file, bytes);
        String corrupted = ArtifactStore.sha256(file);
        assertNotEquals(sha, corrupted);
        report.line("flipped 64 bytes of %s on %s (now hashes to %s) at load +%.1fs", file.getFileName(), victim,
                corrupted, load.now() / 1000);

        double killedAt = load.now();
        cluster.kill(victim);
        cluster.restart(victim);
        Map<String, String> after = cluster.awaitReplicas(MODEL, VERSION, 3, Duration.ofSeconds(60));
        double servingAgainAt = load.now();
        Scenarios.hold(Duration.ofSeconds(3));
        LoadResult result = load.stop();

        report.load(result);
        report.line("replicas before %s, after %s; %s hosts a ready replica again %.1f s after the kill",
                placement, after, victim, (servingAgainAt - killedAt) / 1000);
        assertTrue(after.containsValue(victim), victim + " hosts a ready replica: " + after);
        assertEquals(sha, ArtifactStore.sha256(file), "the artifact on " + victim + " hashes right again");
        assertTrue(cluster.logContains(victim, "corrupt artifact " + sha),
                victim + "'s log names the corruption it detected");
        assertTrue(cluster.logContains(victim, "fetched artifact " + sha),
                victim + "'s log names the fetch from a peer");
        assertEquals(0, result.unanswered(), "every request answered: " + result.summary());
        assertEquals(0, result.duplicates(), result.summary());
        assertEquals(List.of(), result.failures(), "no request fails: " + result.summary());
    }
}
