package io.meshinfer.gateway;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.protocol.OipJson;
import io.meshinfer.registry.GoldenVectors;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Golden vectors and consistency attestation against a real node: recorded at a raw
 * deploy, supplied with a multipart deploy (and refused when the model does not reproduce
 * them), a replica whose session deviates kept from serving, and the attestation endpoint.
 */
class AttestationTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final OipJson OIP = new OipJson(1 << 20);
    private static final String NODE = "attest-node";
    private static final float[] X = {1, 2, 3, 4, -1, 0.5f, 0, 2};
    private static TestNode node;

    @BeforeAll
    static void start() {
        node = TestNode.start(Map.of("meshinfer.node.name", NODE, "meshinfer.node.region", "eu"));
        Http.Reply r = Http.put(node.url() + "/v1/models/rec/versions/1", TestModels.mlp());
        assertEquals(201, r.status(), r.body());
        await().atMost(Duration.ofSeconds(30)).until(() -> node.node().versionReady("rec", "1"));
    }

    @AfterAll
    static void stop() {
        node.close();
    }

    private static JsonNode json(Http.Reply r) throws IOException {
        return JSON.readTree(r.body());
    }

    private static JsonNode attestations(String model, String version) throws IOException {
        Http.Reply r = Http.get(node.url() + "/v1/models/" + model + "/versions/" + version + "/attestations");
        assertEquals(200, r.status(), r.body());
        return json(r);
    }

    /** Golden vectors for the test MLP: two rows and their outputs, plus {@code delta} on the first output. */
    private static byte[] mlpGolden(float delta, Double tolerance) {
        float[] y = TestModels.mlpReference(X, 2);
        y[0] += delta;
        return OIP.encodeGolden(new OipJson.GoldenBody(
                List.of(new NamedTensor("x", Tensor.ofFloats(new long[] {2, 4}, X))),
                List.of(new NamedTensor("y", Tensor.ofFloats(new long[] {2, 3}, y))), tolerance));
    }

    private static Http.Reply deployWithGolden(String model, String version, byte[] golden) {
        return Http.putMultipart(node.url() + "/v1/models/" + model + "/versions/" + version,
                new Http.Part("model", "application/octet-stream", TestModels.mlp()),
                new Http.Part("golden", "application/json", golden));
    }

    @Test
    void aRawDeployRecordsGoldenVectorsAndTheNodeAttestsThem() throws Exception {
        JsonNode listed = null;
        for (JsonNode m : json(Http.get(node.url() + "/v1/models")).get("models")) {
            if (m.get("model").asText().equals("rec")) {
                listed = m;
            }
        }
        assertEquals("recorded by " + NODE, listed.at("/golden/source").asText(), listed.toString());
        assertEquals(4, listed.at("/golden/samples").asInt());
        assertEquals(1e-4, listed.at("/golden/tolerance").asDouble());

        await().atMost(Duration.ofSeconds(10)).until(() -> attestations("rec", "1").get("nodes").size() == 1);
        JsonNode a = attestations("rec", "1");
        assertEquals("rec", a.get("model").asText());
        assertEquals("1", a.get("version").asText());
        assertEquals(listed.get("sha256").asText(), a.get("sha256").asText());
        assertEquals(1e-4, a.get("tolerance").asDouble());
        assertEquals("recorded by " + NODE, a.at("/golden/source").asText());
        assertEquals(4, a.at("/golden/samples").asInt());
        JsonNode n = a.get("nodes").get(0);
        assertEquals(NODE, n.get("node").asText());
        assertEquals("eu", n.get("region").asText());
        assertTrue(n.get("address").asText().startsWith("pekko://meshinfer@127.0.0.1:"), n.toString());
        assertTrue(n.get("passed").asBoolean(), n.toString());
        assertEquals(0.0, n.get("maxDeviation").asDouble(), "the same session reproduces its own recording");
        Instant.parse(n.get("at").asText());
        assertTrue(n.get("detail").asText().startsWith("4 samples within tolerance"), n.toString());
        assertEquals(List.of(node.node().attestations("rec", "1").get(0).node()), List.of(NODE));
    }

    @Test
    void suppliedGoldenVectorsAreCheckedAtDeployAndOnEveryReplica() throws Exception {
        Http.Reply r = deployWithGolden("sup", "1", mlpGolden(0, 1e-3));
        assertEquals(201, r.status(), r.body());
        assertEquals("supplied", json(r).at("/golden/source").asText());
        assertEquals(1, json(r).at("/golden/samples").asInt());
        assertEquals(1e-3, json(r).at("/golden/tolerance").asDouble());
        await().atMost(Duration.ofSeconds(30)).until(() -> node.node().versionReady("sup", "1"));
        await().atMost(Duration.ofSeconds(10)).until(() -> attestations("sup", "1").get("nodes").size() == 1);
        JsonNode a = attestations("sup", "1");
        assertEquals(1e-3, a.get("tolerance").asDouble());
        assertTrue(a.at("/nodes/0/passed").asBoolean(), a.toString());

        Http.Reply defaults = deployWithGolden("sup", "2", mlpGolden(0.00005f, null));
        assertEquals(201, defaults.status(), defaults.body());
        assertEquals(1e-4, json(defaults).at("/golden/tolerance").asDouble(), "the node's default tolerance");
    }

    @Test
    void goldenVectorsTheModelDoesNotReproduceAreRefusedWith400() throws Exception {
        Http.Reply off = deployWithGolden("wrong", "1", mlpGolden(0.5f, null));
        assertEquals(400, off.status(), off.body());
        assertEquals("the model does not reproduce the supplied golden vectors on node " + NODE
                + ": output 'y' deviates by 0.5 (tolerance 1.0E-4)", json(off).get("error").asText());
        assertEquals(404, Http.get(node.url() + "/v2/models/wrong").status(), "nothing was deployed");
    }

    @Test
    void malformedMultipartDeploysAreRefusedWith400() throws Exception {
        byte[] unknownInput = OIP.encodeGolden(new OipJson.GoldenBody(
                List.of(new NamedTensor("z", Tensor.ofFloats(new long[] {1, 4}, 1, 2, 3, 4))),
                List.of(new NamedTensor("y", Tensor.ofFloats(new long[] {1, 3}, 1, 2, 3))), null));
        assertError(deployWithGolden("bad", "1", unknownInput),
                "golden vectors: unexpected input 'z' (model inputs: x)");
        assertError(deployWithGolden("bad", "1", "{\"inputs\": [".getBytes(StandardCharsets.UTF_8)),
                null);
        assertError(deployWithGolden("bad", "1", "{\"inputs\": [], \"outputs\": []}".getBytes(StandardCharsets.UTF_8)),
                "golden vectors need \"inputs\": the model inputs of one run");
        assertError(deployWithGolden("bad", "1", ("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,4],"
                + "\"data\":[1,2,3,4]}],\"outputs\":[{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[1,3],"
                + "\"data\":[1,2,3]}],\"tolerance\":-1}").getBytes(StandardCharsets.UTF_8)),
                "\"tolerance\" must be a finite number >= 0, not -1");
        assertError(Http.putMultipart(node.url() + "/v1/models/bad/versions/1",
                new Http.Part("golden", "application/json", mlpGolden(0, null))),
                "the multipart deploy has no part 'model' (the ONNX file)");
        assertError(Http.putMultipart(node.url() + "/v1/models/bad/versions/1",
                new Http.Part("model", "application/octet-stream", TestModels.mlp()),
                new Http.Part("extra", "text/plain", new byte[] {1})),
                "unknown part 'extra' (a multipart deploy has a part 'model', the ONNX file, and optionally a part"
                        + " 'golden', golden vectors as JSON)");
        assertEquals(404, Http.get(node.url() + "/v2/models/bad").status(), "nothing was deployed");
    }

    private static void assertError(Http.Reply r, String message) throws IOException {
        assertEquals(400, r.status(), r.body());
        if (message != null) {
            assertEquals(message, json(r).get("error").asText());
        }
    }

    @Test
    void aReplicaWhoseSessionDeviatesDoesNotServeAndSaysWhy() throws Exception {
        ModelManifest recorded = node.node().catalog().manifest("rec", "1").orElseThrow();
        GoldenVectors g = recorded.golden();
        List<GoldenVectors.Sample> samples = new ArrayList<>(g.samples());
        Map<String, Tensor> outputs = new HashMap<>(samples.get(0).outputs());
        float[] y = outputs.get("y").floats().clone();
        y[1] -= 0.5f;
        outputs.put("y", Tensor.ofFloats(outputs.get("y").shape(), y));
        samples.set(0, new GoldenVectors.Sample(samples.get(0).inputs(), outputs));
        // the same bytes under another version, with expected outputs this session cannot reproduce
        ModelManifest perturbed = new ModelManifest("rec", "bad", recorded.sha256(), recorded.sizeBytes(),
                recorded.signature(), 1, null, null, null, NODE, System.currentTimeMillis(), "test",
                new GoldenVectors(samples, g.tolerance(), g.source()), 0, null);
        node.node().deploy(perturbed).toCompletableFuture().get(30, TimeUnit.SECONDS);

        await().atMost(Duration.ofSeconds(30)).until(() -> attestations("rec", "bad").get("nodes").size() == 1);
        JsonNode n = attestations("rec", "bad").get("nodes").get(0);
        assertEquals(NODE, n.get("node").asText());
        assertFalse(n.get("passed").asBoolean(), n.toString());
        assertEquals(0.5, n.get("maxDeviation").asDouble(), 1e-5);
        assertTrue(n.get("detail").asText().startsWith("output 'y' in sample 1 deviates by 0.5"), n.toString());

        assertFalse(node.node().versionReady("rec", "bad"), "a replica that failed attestation never serves");
        assertEquals(400, Http.get(node.url() + "/v2/models/rec/versions/bad/ready").status());
        Http.Reply infer = Http.post(node.url() + "/v2/models/rec/versions/bad/infer",
                "{\"parameters\":{\"timeout_ms\":2000},\"inputs\":[{\"name\":\"x\",\"shape\":[1,4],"
                        + "\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]}");
        assertEquals(503, infer.status(), infer.body());
        assertTrue(node.node().versionReady("rec", "1"), "the version with faithful golden vectors still serves");

        JsonNode cluster = json(Http.get(node.url() + "/v1/cluster"));
        JsonNode rec = null;
        for (JsonNode m : cluster.get("models")) {
            if (m.get("model").asText().equals("rec")) {
                rec = m;
            }
        }
        assertEquals(1, rec.at("/attestations/bad/attested").asInt(), rec.toString());
        assertEquals(0, rec.at("/attestations/bad/passed").asInt());
        assertEquals(NODE, rec.at("/attestations/bad/failed/0").asText());
        assertEquals(1, rec.at("/attestations/1/passed").asInt());
    }

    @Test
    void attestationsOfAnUnknownVersionAre404() throws Exception {
        Http.Reply model = Http.get(node.url() + "/v1/models/nobody/versions/1/attestations");
        assertEquals(404, model.status());
        assertEquals("model 'nobody' is not deployed", json(model).get("error").asText());
        Http.Reply version = Http.get(node.url() + "/v1/models/rec/versions/9/attestations");
        assertEquals(404, version.status());
        assertEquals("version '9' of model 'rec' is not deployed", json(version).get("error").asText());
    }
}
