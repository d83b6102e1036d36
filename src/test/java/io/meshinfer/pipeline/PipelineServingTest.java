package io.meshinfer.pipeline;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.models.BenchModels;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two real nodes in one JVM serving the bench MLP deployed with {@code stages=3} next to the
 * same model deployed whole: the stages spread over both nodes, the chained answers equal
 * the whole model's, the bytes between stages are counted, undeploy removes the stages, and
 * bad {@code stages} values are refused with a JSON 400.
 */
class PipelineServingTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final BenchModels.BenchModel MLP = BenchModels.mlp();
    private static TestNode a;
    private static TestNode b;

    @BeforeAll
    static void start() {
        a = TestNode.start(Map.of("meshinfer.node.name", "node-a"));
        b = TestNode.start(Map.of("meshinfer.node.name", "node-b", "pekko.cluster.seed-nodes",
                List.of("pekko://meshinfer@" + a.clusterHostPort())));
        await().atMost(Duration.ofSeconds(30)).until(() -> a.upMembers() == 2 && b.upMembers() == 2);
    }

    @AfterAll
    static void stop() {
        b.close();
        a.close();
    }


    /** Nodes hosting a ready replica of each model whose name starts with {@code prefix}. */
    private static Set<String> readyNodes(TestNode n, String prefix) throws Exception {
        Set<String> nodes = new HashSet<>();
        for (JsonNode r : JSON.readTree(Http.get(n.url() + "/v1/cluster").body()).get("replicas")) {
            if (r.get("model").asText().startsWith(prefix) && r.get("ready").asBoolean()) {
                nodes.add(r.get("node").asText());
            }
        }
        return nodes;
    }

    private static Set<String> deployedModels(TestNode n) throws Exception {
        Set<String> models = new HashSet<>();
        for (JsonNode m : JSON.readTree(Http.get(n.url() + "/v1/models").body()).get("models")) {
            models.add(m.get("model").asText());
        }
        return models;
    }

    private static InferenceResponse infer(TestNode via, String model, List<NamedTensor> inputs) throws Exception {
        InferenceRequest.Builder r = InferenceRequest.builder(model).timeout(Duration.ofSeconds(20));
        inputs.forEach(t -> r.input(t.name(), t.tensor()));
        return via.node().client().infer(r.build()).toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    private static double activationBytes(TestNode n, String model) {
        Matcher m = Pattern.compile("meshinfer_pipeline_activation_bytes_total\\{model=\"" + model
                + "\"[^}]*} ([0-9.eE+]+)").matcher(Http.get(n.url() + "/metrics").body());
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }

    @Test
    void stagedModelAnswersAsTheWholeModelAndUndeployRemovesItsStages() throws Exception {
        assertEquals(201, Http.put(a.url() + "/v1/models/mlp-whole/versions/1", MLP.onnx()).status());
        Http.Reply deployed = Http.put(a.url() + "/v1/models/mlp-split/versions/1?stages=3", MLP.onnx());
        assertEquals(201, deployed.status(), deployed.body());
        JsonNode manifest = JSON.readTree(deployed.body());
        assertEquals(List.of("mlp-split~stage-0", "mlp-split~stage-1", "mlp-split~stage-2"),
                List.of(manifest.get("stages").get(0).asText(), manifest.get("stages").get(1).asText(),
                        manifest.get("stages").get(2).asText()));
        await().atMost(Duration.ofSeconds(60)).until(() -> readyNodes(a, "mlp-split~stage-").size() == 2
                && readyNodes(a, "mlp-whole").size() == 1
                && Http.get(a.url() + "/v2/models/mlp-split/ready").status() == 200);
        JsonNode placement = JSON.readTree(Http.get(a.url() + "/v1/models/mlp-split/versions/1/placement").body());
        assertEquals(3, placement.get("replicas").asInt());

        int sent = 0;
        int answered = 0;
        for (int batch : new int[] {1, 3}) {
            for (TestNode via : List.of(a, b)) {
                List<NamedTensor> inputs = MLP.randomInputs(batch, 17L * batch + sent);
                sent++;
                InferenceResponse whole = infer(via, "mlp-whole", inputs);
                InferenceResponse split = infer(via, "mlp-split", inputs);
                answered++;
                assertEquals("mlp-split", split.model());
                assertEquals("1", split.version());
                assertEquals(List.of("logits"), split.outputs().stream().map(NamedTensor::name).toList());
                Tensor expected = whole.output("logits");
                Tensor actual = split.output("logits");
                assertTrue(actual.sameShape(expected.shape()));
                double diff = actual.maxAbsDifference(expected);
                assertTrue(diff <= 1e-4, "split and whole model differ by " + diff);
            }
        }
        assertEquals(sent, answered);
        // the 1024-wide activation crossed each of the two cuts for every row (1 + 3 rows via each node),
        // handed on by whichever node held the stage before the cut
        assertEquals(2 * 2 * (1 + 3) * 1024 * 4.0, activationBytes(a, "mlp-split") + activationBytes(b, "mlp-split"),
                "activation bytes handed on");

        // over HTTP (Open Inference Protocol), pinned to the version
        List<NamedTensor> one = MLP.randomInputs(1, 99L);
        float[] features = one.get(0).tensor().floats();
        StringBuilder data = new StringBuilder();
        for (int i = 0; i < features.length; i++) {
            data.append(i == 0 ? "" : ",").append(features[i]);
        }
        Http.Reply http = Http.post(b.url() + "/v2/models/mlp-split/versions/1/infer", "{\"inputs\": [{\"name\":"
                + " \"features\", \"shape\": [1, " + features.length + "], \"datatype\": \"FP32\", \"data\": [" + data
                + "]}]}");
        assertEquals(200, http.status(), http.body());
        JsonNode out = JSON.readTree(http.body());
        assertEquals("mlp-split", out.get("model_name").asText());
        Tensor whole = infer(b, "mlp-whole", one).output("logits");
        for (int i = 0; i < 10; i++) {
            assertEquals(whole.getAsDouble(i), out.get("outputs").get(0).get("data").get(i).asDouble(), 1e-4);
        }

        Http.Reply stageUndeploy = Http.delete(a.url() + "/v1/models/mlp-split~stage-1/versions/1");
        assertEquals(400, stageUndeploy.status(), stageUndeploy.body());
        assertEquals(200, Http.delete(a.url() + "/v1/models/mlp-split/versions/1").status());
        await().atMost(Duration.ofSeconds(30)).until(() -> deployedModels(a).equals(Set.of("mlp-whole"))
                && deployedModels(b).equals(Set.of("mlp-whole")) && readyNodes(a, "mlp-split").isEmpty());
        assertEquals(404, Http.post(a.url() + "/v2/models/mlp-split/infer", "{\"inputs\": []}").status());
        assertEquals(200, Http.delete(a.url() + "/v1/models/mlp-whole/versions/1").status());
    }

    @Test
    void badStageCountsAreRefusedWithAJsonError() throws Exception {
        // a three-node graph, small enough that a refusal before the body is read never races its upload
        byte[] tiny = io.meshinfer.testmodels.TestModels.mlp();
        for (String stages : List.of("0", "-1", "abc", "4", "65")) {
            Http.Reply r = Http.put(a.url() + "/v1/models/mlp-bad/versions/1?stages=" + stages, tiny);
            assertEquals(400, r.status(), "stages=" + stages + ": " + r.body());
            JsonNode error = JSON.readTree(r.body());
            assertTrue(error.get("error").asText().contains("stages"), r.body());
        }
        assertFalse(deployedModels(a).stream().anyMatch(m -> m.startsWith("mlp-bad")));
    }
}
