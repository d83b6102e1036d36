package io.meshinfer.gateway;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The HTTP gateway against a real node: the Open Inference Protocol endpoints, deploy
 * and undeploy, and the bad-input matrix. After every bad request the node must still
 * serve a good one.
 */
class GatewayTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String GOOD_MLP = "{\"inputs\":[{\"name\":\"x\",\"shape\":[2,4],\"datatype\":\"FP32\","
            + "\"data\":[1,2,3,4,5,6,7,8]}]}";
    private static TestNode node;

    @BeforeAll
    static void start() {
        node = TestNode.start(Map.of("meshinfer.http.max-request-body", "64KiB",
                "meshinfer.http.max-model-body", "1MiB"));
        deploy("mlp", "1", TestModels.mlp());
        deploy("two", "1", TestModels.twoInTwoOut());
        deploy("scalar", "1", TestModels.scalarInput());
        deploy("fixed", "1", TestModels.noBatchAxis());
        deploy("conv", "1", TestModels.dynamicConv());
        deploy("types", "1", TestModels.allTypes());
        deploy("tokens", "1", TestModels.int64Embedding());
    }

    @AfterAll
    static void stop() {
        node.close();
    }

    static void deploy(String model, String version, byte[] onnx) {
        Http.Reply r = Http.put(node.url() + "/v1/models/" + model + "/versions/" + version, onnx);
        assertEquals(201, r.status(), r.body());
        await().atMost(Duration.ofSeconds(30)).until(() ->
                Http.get(node.url() + "/v2/models/" + model + "/versions/" + version + "/ready").status() == 200);
    }

    /** After each case the node still answers a good request correctly. */
    @AfterEach
    void nodeStillServes() throws IOException {
        Http.Reply r = Http.post(node.url() + "/v2/models/mlp/infer", GOOD_MLP);
        assertEquals(200, r.status(), r.body());
        float[] expected = TestModels.mlpReference(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 2);
        JsonNode data = JSON.readTree(r.body()).at("/outputs/0/data");
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], data.get(i).floatValue(), 1e-5);
        }
    }

    private static JsonNode json(Http.Reply r) throws IOException {
        return JSON.readTree(r.body());
    }

    private static void assertError(Http.Reply r, int status, String message) throws IOException {
        assertEquals(status, r.status(), r.body());
        assertEquals(message, json(r).get("error").asText(), r.body());
    }

    private static Http.Reply infer(String model, String body) {
        return Http.post(node.url() + "/v2/models/" + model + "/infer", body);
    }

    @Test
    void healthEndpointsAnswer() throws IOException {
        assertTrue(json(Http.get(node.url() + "/v2/health/live")).get("live").asBoolean());
        Http.Reply ready = Http.get(node.url() + "/v2/health/ready");
        assertEquals(200, ready.status());
        assertTrue(json(ready).get("ready").asBoolean());
        assertEquals("meshinfer", json(Http.get(node.url() + "/v2")).get("name").asText());
    }

    @Test
    void metadataDescribesInputsAndOutputs() throws IOException {
        JsonNode m = json(Http.get(node.url() + "/v2/models/two"));
        assertEquals("two", m.get("name").asText());
        assertEquals("1", m.get("versions").get(0).asText());
        assertEquals("onnxruntime_onnx", m.get("platform").asText());
        assertEquals("a", m.at("/inputs/0/name").asText());
        assertEquals("FP32", m.at("/inputs/0/datatype").asText());
        assertEquals(-1, m.at("/inputs/0/shape/0").asInt());
        assertEquals(3, m.at("/inputs/0/shape/1").asInt());
        assertEquals("sum", m.at("/outputs/0/name").asText());
        assertEquals("product", m.at("/outputs/1/name").asText());
        JsonNode v = json(Http.get(node.url() + "/v2/models/two/versions/1"));
        assertEquals("1", v.get("version").asText());
        assertFalse(json(Http.get(node.url() + "/v2/models/fixed")).get("batchable").asBoolean());
    }

    @Test
    void inferenceFollowsTheProtocol() throws IOException {
        Http.Reply r = infer("two", "{\"id\":\"req-7\",\"inputs\":["
                + "{\"name\":\"a\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]},"
                + "{\"name\":\"b\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[4,5,6]}]}");
        assertEquals(200, r.status(), r.body());
        JsonNode n = json(r);
        assertEquals("two", n.get("model_name").asText());
        assertEquals("1", n.get("model_version").asText());
        assertEquals("req-7", n.get("id").asText());
        assertEquals("sum", n.at("/outputs/0/name").asText());
        assertEquals("FP32", n.at("/outputs/0/datatype").asText());
        assertEquals(1, n.at("/outputs/0/shape/0").asInt());
        assertEquals(3, n.at("/outputs/0/shape/1").asInt());
        assertEquals(5.0, n.at("/outputs/0/data/0").asDouble(), 1e-6);
        assertEquals(18.0, n.at("/outputs/1/data/2").asDouble(), 1e-6);
        assertEquals("test-node", n.at("/parameters/node").asText());
    }

    @Test
    void requestedOutputsAreTheOnlyOnesReturned() throws IOException {
        Http.Reply r = infer("two", "{\"inputs\":["
                + "{\"name\":\"a\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]},"
                + "{\"name\":\"b\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[4,5,6]}],"
                + "\"outputs\":[{\"name\":\"product\"}]}");
        assertEquals(200, r.status(), r.body());
        JsonNode outs = json(r).get("outputs");
        assertEquals(1, outs.size());
        assertEquals("product", outs.get(0).get("name").asText());
    }

    @Test
    void pinnedVersionEndpointServes() {
        assertEquals(200, Http.post(node.url() + "/v2/models/mlp/versions/1/infer", GOOD_MLP).status());
    }

    @Test
    void rankZeroAndFixedShapeModelsServe() throws IOException {
        Http.Reply r = infer("scalar", "{\"inputs\":["
                + "{\"name\":\"x\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[1,2,3,4]},"
                + "{\"name\":\"scale\",\"shape\":[],\"datatype\":\"FP32\",\"data\":[3]}]}");
        assertEquals(200, r.status(), r.body());
        assertEquals(12.0, json(r).at("/outputs/0/data/3").asDouble(), 1e-6);
        StringBuilder twelve = new StringBuilder();
        for (int i = 0; i < 12; i++) {
            twelve.append(i == 0 ? "" : ",").append(i);
        }
        Http.Reply f = infer("fixed", "{\"inputs\":[{\"name\":\"m\",\"shape\":[3,4],\"datatype\":\"FP32\",\"data\":["
                + twelve + "]}]}");
        assertEquals(200, f.status(), f.body());
        assertEquals(22.0, json(f).at("/outputs/0/data/11").asDouble(), 1e-6);
    }

    @Test
    void convolutionWithDynamicHeightAndWidthServesAnySize() throws IOException {
        for (int size : new int[] {5, 9}) {
            int n = 3 * size * size;
            StringBuilder data = new StringBuilder();
            for (int i = 0; i < n; i++) {
                data.append(i == 0 ? "" : ",").append(i % 7);
            }
            Http.Reply r = infer("conv", "{\"inputs\":[{\"name\":\"image\",\"shape\":[1,3," + size + "," + size
                    + "],\"datatype\":\"FP32\",\"data\":[" + data + "]}]}");
            assertEquals(200, r.status(), r.body());
            JsonNode shape = json(r).at("/outputs/0/shape");
            assertEquals(size, shape.get(2).asInt());
            assertEquals(size, shape.get(3).asInt());
        }
    }

    @Test
    void everyTensorTypeRoundTrips() throws IOException {
        Http.Reply r = infer("types", "{\"inputs\":["
                + "{\"name\":\"fp64\",\"shape\":[1,2],\"datatype\":\"FP64\",\"data\":[1.5,-2.25]},"
                + "{\"name\":\"int32\",\"shape\":[1,2],\"datatype\":\"INT32\",\"data\":[-7,2147483647]},"
                + "{\"name\":\"uint8\",\"shape\":[1,2],\"datatype\":\"UINT8\",\"data\":[0,255]},"
                + "{\"name\":\"bool\",\"shape\":[1,2],\"datatype\":\"BOOL\",\"data\":[true,false]},"
                + "{\"name\":\"int64\",\"shape\":[1,2],\"datatype\":\"INT64\",\"data\":[-9007199254740993,42]}]}");
        assertEquals(200, r.status(), r.body());
        JsonNode n = json(r);
        for (JsonNode out : n.get("outputs")) {
            switch (out.get("name").asText()) {
                case "fp64_out" -> assertEquals(-2.25, out.at("/data/1").asDouble());
                case "int32_out" -> assertEquals(2147483647, out.at("/data/1").asInt());
                case "uint8_out" -> assertEquals(255, out.at("/data/1").asInt());
                case "bool_out" -> assertTrue(out.at("/data/0").asBoolean());
                case "int64_out" -> assertEquals(-9007199254740993L, out.at("/data/0").asLong());
                default -> throw new AssertionError("unexpected output " + out);
            }
        }
    }

    @Test
    void unknownModelIs404() throws IOException {
        assertError(infer("nope", GOOD_MLP), 404, "model 'nope' is not deployed");
        assertError(Http.get(node.url() + "/v2/models/nope"), 404, "model 'nope' is not deployed");
    }

    @Test
    void unknownVersionIs404() throws IOException {
        assertError(Http.post(node.url() + "/v2/models/mlp/versions/9/infer", GOOD_MLP), 404,
                "version '9' of model 'mlp' is not deployed (deployed: 1)");
    }

    @Test
    void missingInputIs400() throws IOException {
        assertError(infer("two", "{\"inputs\":[{\"name\":\"a\",\"shape\":[1,3],\"datatype\":\"FP32\","
                + "\"data\":[1,2,3]}]}"), 400, "missing input 'b' (model inputs: a, b)");
    }

    @Test
    void extraInputIs400() throws IOException {
        assertError(infer("mlp", "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,4],\"datatype\":\"FP32\","
                        + "\"data\":[1,2,3,4]},{\"name\":\"z\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}"),
                400, "unexpected input 'z' (model inputs: x)");
    }

    @Test
    void wrongDatatypeIs400() throws IOException {
        assertError(infer("mlp", "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,4],\"datatype\":\"INT64\","
                + "\"data\":[1,2,3,4]}]}"), 400, "input 'x': datatype INT64 does not match the model's FP32");
    }

    @Test
    void wrongShapeIs400() throws IOException {
        assertError(infer("mlp", "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,5],\"datatype\":\"FP32\","
                        + "\"data\":[1,2,3,4,5]}]}"), 400,
                "input 'x': shape [1, 5] does not match the model's [batch, 4] (dimension 1 must be 4)");
        assertError(infer("mlp", "{\"inputs\":[{\"name\":\"x\",\"shape\":[4],\"datatype\":\"FP32\","
                        + "\"data\":[1,2,3,4]}]}"), 400,
                "input 'x': shape [4] has rank 1, the model expects rank 2 [batch, 4]");
    }

    @Test
    void dataLengthNotMatchingShapeIs400() throws IOException {
        Http.Reply r = infer("mlp", "{\"inputs\":[{\"name\":\"x\",\"shape\":[2,4],\"datatype\":\"FP32\","
                + "\"data\":[1,2,3,4,5,6,7]}]}");
        assertEquals(400, r.status(), r.body());
        assertTrue(json(r).get("error").asText().contains("7 elements"), r.body());
        assertTrue(json(r).get("error").asText().contains("needs 8"), r.body());
    }

    @Test
    void nanAndInfinityAreAcceptedAndDoNotCrash() throws IOException {
        Http.Reply r = infer("mlp", "{\"inputs\":[{\"name\":\"x\",\"shape\":[2,4],\"datatype\":\"FP32\","
                + "\"data\":[\"NaN\",1,2,3,\"Infinity\",\"-Infinity\",0,1]}]}");
        assertEquals(200, r.status(), r.body());
        assertEquals(2, json(r).at("/outputs/0/shape/0").asInt());
    }

    @Test
    void malformedJsonIs400() throws IOException {
        Http.Reply r = infer("mlp", "{\"inputs\":[{\"name\":\"x\",");
        assertEquals(400, r.status(), r.body());
        assertTrue(json(r).get("error").asText().startsWith("malformed JSON"), r.body());
        assertEquals(400, infer("mlp", "").status());
        assertEquals(400, infer("mlp", "[1,2,3]").status());
    }

    @Test
    void bodyOverTheLimitIs413() throws IOException {
        StringBuilder big = new StringBuilder("{\"inputs\":[{\"name\":\"x\",\"shape\":[20000,4],\"datatype\":\"FP32\","
                + "\"data\":[");
        for (int i = 0; i < 80_000; i++) {
            big.append(i == 0 ? "" : ",").append("1.0");
        }
        big.append("]}]}");
        Http.Reply r = infer("mlp", big.toString());
        assertEquals(413, r.status(), r.body());
        assertTrue(json(r).get("error").asText().contains("65536"), r.body());
    }

    @Test
    void poisonedRequestFailsAloneWithAClearError() throws IOException {
        Http.Reply bad = infer("tokens", "{\"inputs\":[{\"name\":\"tokens\",\"shape\":[1,6],\"datatype\":\"INT64\","
                + "\"data\":[1,2,3,4,5,999]}]}");
        assertEquals(500, bad.status(), bad.body());
        assertTrue(json(bad).get("error").asText().startsWith("the model failed on this input"), bad.body());
        Http.Reply good = infer("tokens", "{\"inputs\":[{\"name\":\"tokens\",\"shape\":[1,6],\"datatype\":\"INT64\","
                + "\"data\":[1,2,3,4,5,6]}]}");
        assertEquals(200, good.status(), good.body());
    }

    @Test
    void corruptModelFileIsRefusedWith400() throws IOException {
        byte[] garbage = new byte[4096];
        new Random(1).nextBytes(garbage);
        Http.Reply r = Http.put(node.url() + "/v1/models/garbage/versions/1", garbage);
        assertEquals(400, r.status(), r.body());
        assertTrue(json(r).get("error").asText().startsWith("not a valid ONNX model"), r.body());
        Http.Reply text = Http.put(node.url() + "/v1/models/garbage/versions/1",
                "this is not a model".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        assertEquals(400, text.status(), text.body());
        assertEquals(404, Http.get(node.url() + "/v2/models/garbage").status());
    }

    @Test
    void zeroByteModelFileIsRefusedWith400() throws IOException {
        assertError(Http.put(node.url() + "/v1/models/empty/versions/1", new byte[0]), 400,
                "the model file is empty (0 bytes)");
    }

    @Test
    void modelFileOverTheLimitIs413() {
        Http.Reply r = Http.put(node.url() + "/v1/models/huge/versions/1", new byte[2 * 1024 * 1024]);
        assertEquals(413, r.status(), r.body());
    }

    @Test
    void badNamesAndDeployParametersAre400() throws IOException {
        assertEquals(400, Http.put(node.url() + "/v1/models/bad%20name/versions/1", TestModels.mlp()).status());
        assertError(Http.put(node.url() + "/v1/models/m2/versions/1?replicas=zero", TestModels.mlp()), 400,
                "replicas must be a whole number, not 'zero'");
        assertError(Http.put(node.url() + "/v1/models/m2/versions/1?maxBatch=0", TestModels.mlp()), 400,
                "maxBatch must be between 1 and 65536, not 0");
    }

    @Test
    void redeployingAVersionWithOtherBytesIs409AndTheSameBytesIsIdempotent() throws IOException {
        assertEquals(200, Http.put(node.url() + "/v1/models/mlp/versions/1", TestModels.mlp()).status());
        Http.Reply r = Http.put(node.url() + "/v1/models/mlp/versions/1", TestModels.twoInTwoOut());
        assertEquals(409, r.status(), r.body());
        assertTrue(json(r).get("error").asText().contains("versions are immutable"), r.body());
    }

    @Test
    void unknownEndpointIsJson404() throws IOException {
        Http.Reply r = Http.get(node.url() + "/v2/nothing/here");
        assertEquals(404, r.status());
        assertTrue(json(r).has("error"));
    }

    @Test
    void undeployReleasesTheSessionAndTheModelIsGone() throws IOException {
        int sessionsBefore = node.resources().runtime().loadedSessions().size();
        deploy("short-lived", "1", TestModels.batchOnSecondAxis());
        String body = "{\"inputs\":[{\"name\":\"state\",\"shape\":[2,1,3],\"datatype\":\"FP32\",\"data\":[1,2,3,4,5,6]}]}";
        assertEquals(200, infer("short-lived", body).status());
        assertEquals(sessionsBefore + 1, node.resources().runtime().loadedSessions().size());
        Http.Reply d = Http.delete(node.url() + "/v1/models/short-lived/versions/1");
        assertEquals(200, d.status(), d.body());
        assertError(infer("short-lived", body), 404, "model 'short-lived' is not deployed");
        await().atMost(Duration.ofSeconds(20)).until(() ->
                node.node().pool().all().stream().noneMatch(r -> r.id().model().equals("short-lived")));
        await().atMost(Duration.ofSeconds(20)).until(() ->
                node.resources().runtime().loadedSessions().size() == sessionsBefore);
        assertError(Http.delete(node.url() + "/v1/models/short-lived/versions/1"), 404,
                "version '1' of model 'short-lived' is not deployed");
    }

    @Test
    void clusterStatusListsMembersReplicasAndModels() throws IOException {
        JsonNode c = json(Http.get(node.url() + "/v1/cluster"));
        assertTrue(c.get("self").asText().startsWith("pekko://meshinfer@127.0.0.1:"));
        JsonNode member = c.get("members").get(0);
        assertEquals("Up", member.get("status").asText());
        assertTrue(member.get("reachable").asBoolean());
        assertEquals("default", member.get("region").asText());
        assertEquals("test-node", member.get("name").asText());
        boolean mlpReplica = false;
        for (JsonNode r : c.get("replicas")) {
            if (r.get("model").asText().equals("mlp")) {
                mlpReplica = r.get("ready").asBoolean() && r.get("node").asText().equals("test-node");
            }
        }
        assertTrue(mlpReplica, c.toString());
    }

    @Test
    void placementNamesTheNodeOfEveryReplicaAndWhetherItIsReady() throws IOException {
        JsonNode p = json(Http.get(node.url() + "/v1/models/mlp/versions/1/placement"));
        assertEquals("mlp", p.get("model").asText());
        assertEquals(1, p.get("replicas").asInt());
        assertEquals(1, p.get("ready").asInt());
        JsonNode r = p.get("placement").get(0);
        assertEquals("mlp@1#0", r.get("replica").asText());
        assertEquals("test-node", r.get("node").asText());
        assertEquals("default", r.get("region").asText());
        assertTrue(r.get("ready").asBoolean());
        assertEquals("ready", r.get("status").asText());
        assertError(Http.get(node.url() + "/v1/models/mlp/versions/9/placement"), 404,
                "version '9' of model 'mlp' is not deployed");
    }
}
