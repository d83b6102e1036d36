package io.meshinfer.observability;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Drift induced over HTTP on a real node: traffic from one distribution builds the reference
 * profile and leaves the version unflagged; the same inputs shifted by three standard
 * deviations raise the flag in {@code /metrics} and in {@code GET /v1/cluster}. Requests are
 * sampled ({@code sample-every = 2}), so the sampling path is the one exercised.
 */
class DriftEndToEndTest {
    private static final Pattern FLAG = Pattern.compile(
            "meshinfer_drift_flag\\{model=\"mlp\",node=\"drift-node\",version=\"1\"} (\\S+)");
    private static final Pattern PSI = Pattern.compile(
            "meshinfer_drift_psi\\{feature=\"x\",kind=\"input\",model=\"mlp\",node=\"drift-node\",version=\"1\"} (\\S+)");
    private static TestNode node;

    @BeforeAll
    static void start() {
        node = TestNode.start(Map.of("meshinfer.node.name", "drift-node",
                "meshinfer.drift.reference-samples", "400",
                "meshinfer.drift.block-samples", "200",
                "meshinfer.drift.samples-per-tensor", "4",
                "meshinfer.drift.sample-every", "2"));
        assertEquals(201, Http.put(node.url() + "/v1/models/mlp/versions/1", TestModels.mlp()).status());
        await().atMost(Duration.ofSeconds(30)).until(() -> node.node().versionReady("mlp", "1"));
    }

    @AfterAll
    static void stop() {
        node.close();
    }

    private static void send(SplittableRandom random, double shift, int requests) {
        for (int i = 0; i < requests; i++) {
            StringBuilder data = new StringBuilder();
            for (int j = 0; j < 4; j++) {
                data.append(j == 0 ? "" : ",").append(String.format(Locale.ROOT, "%.4f",
                        shift + gaussian(random)));
            }
            String body = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[" + data
                    + "]}]}";
            Http.Reply r = Http.post(node.url() + "/v2/models/mlp/infer", body);
            assertEquals(200, r.status(), r.body());
        }
    }

    private static double gaussian(SplittableRandom random) {
        double u = Math.max(1e-12, random.nextDouble());
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.nextDouble());
    }

    private static double metric(Pattern p) {
        String body = Http.get(node.url() + "/metrics").body();
        Matcher m = p.matcher(body);
        return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
    }

    private static JsonNode driftStatus() throws Exception {
        JsonNode cluster = new ObjectMapper().readTree(Http.get(node.url() + "/v1/cluster").body());
        for (JsonNode d : cluster.path("drift")) {
            if (d.path("model").asText().equals("mlp") && d.path("version").asText().equals("1")) {
                return d;
            }
        }
        return null;
    }

    @Test
    void aShiftedInputDistributionRaisesTheFlagInMetricsAndStatus() throws Exception {
        SplittableRandom random = new SplittableRandom(7);
        // Reference (400 values = about 200 sampled requests of 4 values) and a first window.
        send(random, 0, 600);
        double psi = metric(PSI);
        assertTrue(psi < 0.2, "same distribution, PSI " + psi);
        assertEquals(0.0, metric(FLAG), "not flagged on the reference distribution");
        JsonNode before = driftStatus();
        assertTrue(before != null && !before.path("drifted").asBoolean(), String.valueOf(before));

        // The window holds one to two blocks of 200 values: 400 shifted requests (about 800
        // sampled values) replace it with shifted values only.
        send(random, 3, 400);
        double shifted = metric(PSI);
        assertTrue(shifted > 1, "shifted by three standard deviations, PSI " + shifted);
        assertEquals(1.0, metric(FLAG), "flagged after the shift");
        JsonNode after = driftStatus();
        assertTrue(after != null && after.path("drifted").asBoolean(), String.valueOf(after));
    }
}
