package io.meshinfer.pipeline;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Three real nodes in one JVM (Artery between them) serving the bench CNN, whose requests
 * and stage activations are larger than Artery's ordinary frame (256 KiB): a batch of 8
 * images (384 KiB) to a replica on another node, and the CNN split in 2 stages, whose cut
 * carries 512 KiB per sample. The pipeline is entered at the node holding no stage, so the
 * metrics show the activations going from stage to stage directly: that node hands none on,
 * the stage-0 node hands them to stage 1, and each stage node counts what reached it.
 */
class ActivationStreamingTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final BenchModels.BenchModel CNN = BenchModels.cnn();
    private static final List<TestNode> NODES = new java.util.ArrayList<>();

    @BeforeAll
    static void start() {
        TestNode a = TestNode.start(Map.of("meshinfer.node.name", "node-a"));
        NODES.add(a);
        for (String name : List.of("node-b", "node-c")) {
            NODES.add(TestNode.start(Map.of("meshinfer.node.name", name, "pekko.cluster.seed-nodes",
                    List.of("pekko://meshinfer@" + a.clusterHostPort()))));
        }
        await().atMost(Duration.ofSeconds(40)).until(() -> {
            for (TestNode n : NODES) {
                if (n.upMembers() != 3) {
                    return false;
                }
            }
            return true;
        });
    }

    @AfterAll
    static void stop() {
        for (int i = NODES.size() - 1; i >= 0; i--) {
            NODES.get(i).close();
        }
    }

    /** Node name of the ready replica of each model whose name starts with {@code prefix}. */
    private static Map<String, String> readyReplicas(String prefix) throws Exception {
        Map<String, String> where = new HashMap<>();
        for (JsonNode r : JSON.readTree(Http.get(NODES.get(0).url() + "/v1/cluster").body()).get("replicas")) {
            if (r.get("model").asText().startsWith(prefix) && r.get("ready").asBoolean()) {
                where.put(r.get("model").asText(), r.get("node").asText());
            }
        }
        return where;
    }

    /** Whether every node knows the model and sees a ready replica of it (or of each of its stages). */
    private static boolean readyEverywhere(String model) {
        return NODES.stream().allMatch(n -> Http.get(n.url() + "/v2/models/" + model + "/ready").status() == 200);
    }

    private static TestNode node(String name) {
        return NODES.stream().filter(n -> n.node().settings().name().equals(name)).findFirst().orElseThrow();
    }

    private static InferenceResponse infer(TestNode via, String model, List<NamedTensor> inputs) throws Exception {
        InferenceRequest.Builder r = InferenceRequest.builder(model).timeout(Duration.ofSeconds(30));
        inputs.forEach(t -> r.input(t.name(), t.tensor()));
        return via.node().client().infer(r.build()).toCompletableFuture().get(40, TimeUnit.SECONDS);
    }

    private static double counter(TestNode n, String name, String model) {
        Matcher m = Pattern.compile(name + "\\{model=\"" + model + "\"[^}]*} ([0-9.eE+]+)")
                .matcher(Http.get(n.url() + "/metrics").body());
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }

    private static void assertClose(Tensor expected, Tensor actual) {
        assertTrue(actual.sameShape(expected.shape()));
        double diff = actual.maxAbsDifference(expected);
        assertTrue(diff <= 1e-3, "answers differ by " + diff);
    }

    @Test
    void largeAnswersComeBackAndTooLargeRequestsAreRefusedClearly() throws Exception {
        TestNode a = NODES.get(0);
        assertEquals(201, Http.put(a.url() + "/v1/models/doubler/versions/1?replicas=1",
                io.meshinfer.testmodels.TestModels.imageDoubler()).status());
        await().atMost(Duration.ofSeconds(60)).until(() -> readyReplicas("doubler").size() == 1
                && readyEverywhere("doubler"));
        TestNode host = node(readyReplicas("doubler").get("doubler"));
        int sent = 0;
        int answered = 0;
        for (TestNode via : NODES) {
            if (via == host) {
                continue;
            }
            // 8 images: 384 KiB each way, the answer through the relay of the entry node
            float[] pixels = new float[8 * 3 * 64 * 64];
            for (int i = 0; i < pixels.length; i++) {
                pixels[i] = (i % 1000) / 7f;
            }
            sent++;
            Tensor doubled = infer(via, "doubler", List.of(new NamedTensor("image",
                    Tensor.ofFloats(new long[] {8, 3, 64, 64}, pixels)))).output("doubled");
            answered++;
            float[] out = doubled.floats();
            for (int i = 0; i < pixels.length; i++) {
                assertEquals(pixels[i] * 2, out[i], 1e-5);
            }

            // 171 images (8.4 MB) exceed the large channel's 8 MiB: refused at once, saying why
            long[] shape = {171, 3, 64, 64};
            InferenceRequest tooLarge = InferenceRequest.builder("doubler").timeout(Duration.ofSeconds(30))
                    .input("image", Tensor.ofFloats(shape, new float[171 * 3 * 64 * 64])).build();
            long t0 = System.nanoTime();
            sent++;
            java.util.concurrent.ExecutionException refused = org.junit.jupiter.api.Assertions.assertThrows(
                    java.util.concurrent.ExecutionException.class,
                    () -> via.node().client().infer(tooLarge).toCompletableFuture().get(40, TimeUnit.SECONDS));
            answered++;
            assertTrue(refused.getCause() instanceof io.meshinfer.api.InferenceException ie
                    && ie.kind() == io.meshinfer.api.ErrorKind.UNAVAILABLE
                    && ie.getMessage().contains("cannot travel between nodes"), String.valueOf(refused.getCause()));
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(20), "the refusal waited for the deadline");
        }
        // the same request is served by the node holding the replica
        sent++;
        InferenceResponse local = infer(host, "doubler", List.of(new NamedTensor("image",
                Tensor.ofFloats(new long[] {171, 3, 64, 64}, new float[171 * 3 * 64 * 64]))));
        answered++;
        assertEquals(171, local.output("doubled").shape()[0]);
        assertEquals(sent, answered);
        assertEquals(200, Http.delete(a.url() + "/v1/models/doubler/versions/1").status());
    }

    @Test
    void largeRequestsAndActivationsCrossNodes() throws Exception {
        TestNode a = NODES.get(0);
        assertEquals(201, Http.put(a.url() + "/v1/models/cnn-whole/versions/1?replicas=1", CNN.onnx()).status());
        Http.Reply split = Http.put(a.url() + "/v1/models/cnn-split/versions/1?stages=2", CNN.onnx());
        assertEquals(201, split.status(), split.body());
        await().atMost(Duration.ofSeconds(90)).until(() -> readyReplicas("cnn-split~stage-").size() == 2
                && readyReplicas("cnn-whole").size() == 1 && readyEverywhere("cnn-split") && readyEverywhere("cnn-whole"));
        Map<String, String> stages = readyReplicas("cnn-split~stage-");
        String stage0 = stages.get("cnn-split~stage-0");
        String stage1 = stages.get("cnn-split~stage-1");
        assertNotNull(stage0);
        assertTrue(!stage0.equals(stage1), "stages share a node: " + stages);
        TestNode wholeHost = node(readyReplicas("cnn-whole").get("cnn-whole"));
        TestNode entry = NODES.stream().filter(n -> !n.node().settings().name().equals(stage0)
                && !n.node().settings().name().equals(stage1)).findFirst().orElseThrow();

        int sent = 0;
        int answered = 0;
        // 8 images = 384 KiB of input, sent from every node without the replica to the one with it
        List<NamedTensor> images = CNN.randomInputs(8, 5L);
        Tensor expected = infer(wholeHost, "cnn-whole", images).output("logits");
        for (TestNode via : NODES) {
            if (via != wholeHost) {
                sent++;
                assertClose(expected, infer(via, "cnn-whole", images).output("logits"));
                answered++;
            }
        }

        // the pipeline, entered at the node holding no stage: 1 and 2 images (512 KiB and 1 MiB at the cut)
        for (int batch : new int[] {1, 2}) {
            List<NamedTensor> inputs = CNN.randomInputs(batch, 31L + batch);
            Tensor whole = infer(wholeHost, "cnn-whole", inputs).output("logits");
            sent++;
            InferenceResponse piped = infer(entry, "cnn-split", inputs);
            answered++;
            assertEquals("cnn-split", piped.model());
            assertClose(whole, piped.output("logits"));
        }
        assertEquals(sent, answered);
        // stage to stage directly: the entry node handed on nothing, the stage-0 node everything
        assertEquals(0.0, counter(entry, "meshinfer_pipeline_activation_bytes_total", "cnn-split"));
        assertTrue(counter(node(stage0), "meshinfer_pipeline_activation_bytes_total", "cnn-split") >= 3 * 512 * 1024,
                "activations not counted on the stage-0 node");
        // what crossed the network: the images to stage 0's node, the activations to stage 1's
        assertEquals(3 * 3 * 64 * 64 * 4.0, counter(node(stage0), "meshinfer_pipeline_network_bytes_total",
                "cnn-split"));
        assertEquals(3 * 512 * 1024.0, counter(node(stage1), "meshinfer_pipeline_network_bytes_total", "cnn-split"));
        assertEquals(0.0, counter(entry, "meshinfer_pipeline_network_bytes_total", "cnn-split"));
    }
}
