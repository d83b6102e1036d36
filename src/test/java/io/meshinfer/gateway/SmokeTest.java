package io.meshinfer.gateway;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class SmokeTest {
    static TestNode node;

    @BeforeAll
    static void start() {
        node = TestNode.start();
    }

    @AfterAll
    static void stop() {
        node.close();
    }

    @Test
    void deployAndInferOverHttp() {
        Http.Reply deployed = Http.put(node.url() + "/v1/models/mlp/versions/1", TestModels.mlp());
        assertEquals(201, deployed.status(), deployed.body());
        await().atMost(Duration.ofSeconds(20)).until(() -> Http.get(node.url() + "/v2/models/mlp/ready").status() == 200);
        Http.Reply r = Http.post(node.url() + "/v2/models/mlp/infer",
                "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]}");
        System.out.println(r.body());
        assertEquals(200, r.status(), r.body());
        System.out.println(Http.get(node.url() + "/v1/cluster").body());
        System.out.println(Http.get(node.url() + "/v2/models/mlp").body());
        assertTrue(r.body().contains("\"y\""));
    }
}
