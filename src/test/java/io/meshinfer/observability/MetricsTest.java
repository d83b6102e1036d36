package io.meshinfer.observability;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code GET /metrics} on a real node: Prometheus text format, the series the contract names, real counts. */
class MetricsTest {
    private static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*\\})? (\\S+)");
    private static TestNode node;

    @BeforeAll
    static void start() {
        node = TestNode.start(Map.of("meshinfer.node.name", "metrics-node"));
        assertEquals(201, Http.put(node.url() + "/v1/models/mlp/versions/1", TestModels.mlp()).status());
        await().atMost(Duration.ofSeconds(30)).until(() -> node.node().versionReady("mlp", "1"));
    }

    @AfterAll
    static void stop() {
        node.close();
    }

    private static Map<String, Double> scrape() {
        Http.Reply r = Http.get(node.url() + "/metrics");
        assertEquals(200, r.status(), r.body());
        Map<String, Double> samples = new HashMap<>();
        for (String line : r.body().split("\n")) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            Matcher m = SAMPLE.matcher(line);
            assertTrue(m.matches(), "not a Prometheus sample line: " + line);
            samples.put(m.group(1) + (m.group(2) == null ? "" : m.group(2)), Double.parseDouble(m.group(3)));
        }
        return samples;
    }

    @Test
    void requestsBatchesReplicasAndClusterAreExposedWithTheirLabels() {
        String ok = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]}";
        for (int i = 0; i < 5; i++) {
            assertEquals(200, Http.post(node.url() + "/v2/models/mlp/infer", ok).status());
        }
        assertEquals(400, Http.post(node.url() + "/v2/models/mlp/infer",
                "{\"inputs\":[{\"name\":\"nope\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]}").status());
        assertEquals(404, Http.post(node.url() + "/v2/models/ghost-" + System.nanoTime() + "/infer", ok).status());

        Map<String, Double> s = scrape();
        String mlp = "model=\"mlp\",node=\"metrics-node\"";
        assertEquals(5.0, s.get("meshinfer_requests_total{" + mlp + ",outcome=\"ok\",version=\"1\"}"), s.toString());
        assertEquals(1.0, s.get("meshinfer_requests_total{" + mlp + ",outcome=\"invalid_input\",version=\"\"}"));
        assertEquals(1.0, s.get("meshinfer_requests_total{model=\"_unknown_\",node=\"metrics-node\","
                + "outcome=\"model_not_found\",version=\"\"}"), "unknown models share one series");
        assertEquals(5.0, s.get("meshinfer_request_duration_seconds_count{" + mlp + ",version=\"1\"}"));
        String replica = mlp + ",replica=\"0\",version=\"1\"";
        assertEquals(5.0, s.get("meshinfer_queue_wait_seconds_count{" + replica + "}"));
        assertTrue(s.get("meshinfer_inference_duration_seconds_count{" + replica + "}") >= 1);
        assertEquals(s.get("meshinfer_inference_duration_seconds_count{" + replica + "}"),
                s.get("meshinfer_batch_size_count{" + replica + "}"));
        assertEquals(5.0, s.get("meshinfer_batch_size_sum{" + replica + "}"), "5 rows in all");
        assertEquals(0.0, s.get("meshinfer_queue_depth{" + replica + "}"));
        assertEquals(1.0, s.get("meshinfer_replicas{" + mlp + ",status=\"ready\",version=\"1\"}"));
        assertEquals(100.0, s.get("meshinfer_traffic_weight{" + mlp + ",version=\"1\"}"));
        assertEquals(1.0, s.get("meshinfer_cluster_members{node=\"metrics-node\",status=\"up\"}"));
        assertEquals(0.0, s.get("meshinfer_cluster_unreachable_members{node=\"metrics-node\"}"));
        assertEquals(0.0, s.get("meshinfer_in_flight_requests{node=\"metrics-node\"}"));
        assertEquals(0.0, s.get("meshinfer_rollouts_in_progress{node=\"metrics-node\"}"));
        assertTrue(s.get("meshinfer_loaded_sessions{node=\"metrics-node\"}") >= 1);
        assertEquals((double) TestModels.mlp().length, s.get("meshinfer_loaded_session_bytes{node=\"metrics-node\"}"),
                "one session, holding the mlp's file");
        assertTrue(s.containsKey("process_resident_memory_bytes"), "the process's RSS, for the native side");
        assertTrue(s.get("meshinfer_artifact_bytes{node=\"metrics-node\"}") > 0);
        assertTrue(s.keySet().stream().anyMatch(k -> k.startsWith("jvm_memory_used_bytes")), "JVM metrics too");
        assertTrue(Http.get(node.url() + "/metrics").body().contains("# TYPE meshinfer_requests_total counter"));
    }
}
