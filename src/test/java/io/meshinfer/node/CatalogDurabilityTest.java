package io.meshinfer.node;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TempDirs;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The catalog survives a restart of the whole cluster (here: its only node). */
class CatalogDurabilityTest {

    @Test
    void deploymentsSurviveARestartOfTheWholeCluster() throws Exception {
        Path dataDir = Files.createTempDirectory("meshinfer-durable");
        try {
            restartOn(dataDir);
        } finally {
            TempDirs.delete(dataDir);
        }
    }

    private static void restartOn(Path dataDir) throws Exception {
        Map<String, Object> config = Map.of("meshinfer.node.name", "durable-node");
        try (TestNode first = TestNode.start(config, dataDir)) {
            assertEquals(201, Http.put(first.url() + "/v1/models/kept/versions/7", TestModels.mlp()).status());
            await().atMost(Duration.ofSeconds(30)).until(() -> first.node().versionReady("kept", "7"));
        }
        try (TestNode second = TestNode.start(config, dataDir)) {
            // nothing is deployed again: the catalog comes back from disk, the replica with it
            await().atMost(Duration.ofSeconds(30)).until(() -> second.node().versionReady("kept", "7"));
            float[] x = {1, 2, 3, 4};
            InferenceResponse r = second.node().client()
                    .infer(InferenceRequest.builder("kept").input("x", Tensor.ofFloats(new long[] {1, 4}, x)).build())
                    .toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertEquals("7", r.version());
            assertArrayEquals(TestModels.mlpReference(x, 1), r.output("y").floats(), 1e-6f);
        }
    }
}
