package io.meshinfer.gateway;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.registry.CatalogConflict;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.junit.jupiter.api.Test;

/**
 * A deploy the catalog's writer refuses as a conflict is answered 409, as the gateway's own
 * check answers it. The writer sees such a deploy when the gateway's catalog had not yet
 * heard of the version it races (another node's deploy of it, still spreading by gossip):
 * here the gateway's check is bypassed by deploying through the node directly.
 */
class CatalogConflictTest {

    @Test
    void aConflictFoundByTheCatalogWriterIs409() throws Exception {
        try (TestNode t = TestNode.start(Map.of("meshinfer.node.name", "conflict-node"))) {
            assertEquals(201, Http.put(t.url() + "/v1/models/racer/versions/1", TestModels.mlp()).status());
            await().atMost(Duration.ofSeconds(30)).until(() -> t.node().catalog().manifest("racer", "1").isPresent());
            ModelManifest deployed = t.node().catalog().manifest("racer", "1").orElseThrow();
            ModelManifest other = new ModelManifest("racer", "1", "b".repeat(64), deployed.sizeBytes(),
                    deployed.signature(), 1, null, null, null, "elsewhere", System.currentTimeMillis(), "test", null,
                    0, null);

            ExecutionException refused = assertThrows(ExecutionException.class,
                    () -> t.node().deploy(other).toCompletableFuture().get(30, TimeUnit.SECONDS));
            CatalogConflict conflict = assertInstanceOf(CatalogConflict.class, refused.getCause());
            assertTrue(conflict.getMessage().contains("already deployed with different content"),
                    conflict.getMessage());
            Map.Entry<StatusCode, String> answer = HttpGateway.adminFailure(refused.getCause());
            assertEquals(StatusCodes.CONFLICT, answer.getKey());
            assertEquals(conflict.getMessage(), answer.getValue());

            // the gateway's own check gives the same status for the same conflict
            Http.Reply again = Http.put(t.url() + "/v1/models/racer/versions/1", TestModels.scaled(1, 2, 3, 4));
            assertEquals(409, again.status(), again.body());
        }
    }
}
