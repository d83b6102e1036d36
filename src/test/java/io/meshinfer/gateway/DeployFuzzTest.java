package io.meshinfer.gateway;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.models.DemoModel;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.HostileModels;
import io.meshinfer.testmodels.TestModels;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Mutated model files (bit flips, overwrites, truncation, splices, structural field
 * mutations; seeded) through the real deploy path of a node: HTTP upload, artifact store,
 * the model checks and ONNX Runtime. Every upload ends in 400 with a JSON error or 201 (a
 * mutation that is still a valid model, undeployed again at once); the node never crashes
 * or hangs, keeps no refused file, releases every session, and serves a valid request
 * afterwards.
 */
class DeployFuzzTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<byte[]> VALID = List.of(TestModels.mlp(), TestModels.twoInTwoOut(),
            TestModels.dynamicConv(), TestModels.allTypes(), DemoModel.build());
    private static final String GOOD = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,4],\"datatype\":\"FP32\","
            + "\"data\":[1,2,3,4]}]}";
    private static TestNode node;

    @BeforeAll
    static void start() {
        node = TestNode.start();
        assertEquals(201, Http.put(node.url() + "/v1/models/stable/versions/1", TestModels.mlp()).status());
        await().atMost(Duration.ofSeconds(30)).until(() ->
                Http.post(node.url() + "/v2/models/stable/infer", GOOD).status() == 200);
    }

    @AfterAll
    static void stop() {
        node.close();
    }

    @Test
    void mutatedModelFilesAreRefusedOrDeployedAndTheNodeKeepsServing() throws Exception {
        int sessionsBefore = node.resources().runtime().loadedSessions().size();
        int[] outcomes = assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            int refused = 0;
            int deployed = 0;
            for (int i = 0; i < 160; i++) {
                Random random = new Random(61L * 1_000_003L + i);
                byte[] valid = VALID.get(random.nextInt(VALID.size()));
                byte[] bytes = i % 2 == 0
                        ? HostileModels.mutate(valid, VALID.get(random.nextInt(VALID.size())), random)
                        : HostileModels.mutateFields(valid, random);
                Http.Reply r = Http.put(node.url() + "/v1/models/fuzz/versions/v" + i, bytes);
                if (r.status() == 400) {
                    String error = JSON.readTree(r.body()).path("error").asText();
                    assertTrue(!error.isEmpty() && error.length() < 1000, "case " + i + ": " + r.body());
                    refused++;
                    continue;
                }
                assertEquals(201, r.status(), "case " + i + ": " + r.body());
                deployed++;
                assertEquals(200, Http.delete(node.url() + "/v1/models/fuzz/versions/v" + i).status(), "case " + i);
            }
            return new int[] {refused, deployed};
        });
        assertTrue(outcomes[0] > 40 && outcomes[1] > 10, "refused " + outcomes[0] + ", deployed " + outcomes[1]);

        Http.Reply good = Http.post(node.url() + "/v2/models/stable/infer", GOOD);
        assertEquals(200, good.status(), good.body());
        await().atMost(Duration.ofSeconds(30)).until(() ->
                node.resources().runtime().loadedSessions().size() == sessionsBefore);
        try (var incoming = Files.list(node.resources().store().directory().resolve("incoming"))) {
            assertEquals(0, incoming.count(), "no upload left half-stored");
        }
        // only models that were deployed stay in the store: the stable one and the valid mutations
        assertTrue(node.resources().store().list().size() <= 1 + outcomes[1], node.resources().store().list().toString());
        assertEquals(Map.of("ready", true), Map.of("ready",
                JSON.readTree(Http.get(node.url() + "/v2/health/ready").body()).path("ready").asBoolean()));
    }
}
