package io.meshinfer.gateway;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.protocol.OipBinary;
import io.meshinfer.protocol.OipJson;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The binary tensor data extension against a real node, spoken as Triton and KServe clients
 * speak it: {@code Inference-Header-Content-Length}, raw little-endian tensors after the
 * JSON, binary outputs on request. Errors stay JSON; after each case the node still serves.
 */
class BinaryExtensionTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final OipJson OIP_JSON = new OipJson(Tensor.MAX_ELEMENTS);
    private static final OipBinary OIP_BINARY = new OipBinary(OIP_JSON);
    private static TestNode node;

    /** Status, content type, header length and body of one exchange. */
    private record Reply(int status, String contentType, Optional<String> headerLength, byte[] body) {
        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    @BeforeAll
    static void start() {
        node = TestNode.start();
        deploy("conv", TestModels.dynamicConv());
        deploy("two", TestModels.twoInTwoOut());
        deploy("types", TestModels.allTypes());
    }

    @AfterAll
    static void stop() {
        node.close();
    }

    private static void deploy(String model, byte[] onnx) {
        Http.Reply r = Http.put(node.url() + "/v1/models/" + model + "/versions/1", onnx);
        assertEquals(201, r.status(), r.body());
        await().atMost(Duration.ofSeconds(30)).until(() ->
                Http.get(node.url() + "/v2/models/" + model + "/versions/1/ready").status() == 200);
    }

    @AfterEach
    void nodeStillServesBinary() {
        InferenceRequest r = InferenceRequest.builder("two")
                .input("a", Tensor.ofFloats(new long[] {1, 3}, 1, 2, 3))
                .input("b", Tensor.ofFloats(new long[] {1, 3}, 4, 5, 6)).build();
        Reply reply = post("two", OIP_BINARY.encodeRequest(r, true, true));
        assertEquals(200, reply.status(), reply.text());
        assertArrayEquals(new float[] {5, 7, 9}, decode(reply).output("sum").floats());
    }

    @Test
    void aBinaryImageGivesTheSameNumbersAsJson() {
        float[] pixels = randomImage(3);
        pixels[5] = 0.1f;
        InferenceRequest r = InferenceRequest.builder("conv")
                .input("image", Tensor.ofFloats(new long[] {1, 3, 64, 64}, pixels)).build();
        byte[] jsonBody = OIP_JSON.encodeRequest(r);
        OipBinary.Body binaryBody = OIP_BINARY.encodeRequest(r, true, true);

        Reply viaJson = post("conv", binaryBodyOf(jsonBody));
        Reply viaBinary = post("conv", binaryBody);

        assertEquals(200, viaJson.status(), viaJson.text());
        assertEquals(200, viaBinary.status(), viaBinary.text());
        assertEquals("application/json", viaJson.contentType());
        assertTrue(viaJson.headerLength().isEmpty());
        assertEquals("application/octet-stream", viaBinary.contentType());
        Tensor fromJson = decode(viaJson).output("features");
        Tensor fromBinary = decode(viaBinary).output("features");
        assertTrue(fromJson.contentEquals(fromBinary), "binary and JSON paths differ by "
                + fromJson.maxAbsDifference(fromBinary));
        assertArrayEquals(new long[] {1, 2, 64, 64}, fromBinary.shape());
        // Channel 1 of the model is the centre pixel of input channel 0 plus 0.5.
        float[] features = fromBinary.floats();
        for (int i = 0; i < 64 * 64; i++) {
            assertEquals(pixels[i] + 0.5f, features[64 * 64 + i], 1e-6f);
        }
        System.out.printf("1x3x64x64 FP32 request body: JSON %d bytes, binary %d bytes (%d JSON header + %d raw);"
                        + " response: JSON %d bytes, binary %d bytes%n", jsonBody.length, binaryBody.bytes().length,
                binaryBody.jsonLength(), binaryBody.bytes().length - binaryBody.jsonLength(), viaJson.body().length,
                viaBinary.body().length);
        assertTrue(binaryBody.bytes().length * 2 < jsonBody.length);
    }

    @Test
    void aBinaryBodySentInPiecesGivesTheSameNumbersAsInOne() {
        float[] pixels = randomImage(5);
        InferenceRequest r = InferenceRequest.builder("conv")
                .input("image", Tensor.ofFloats(new long[] {1, 3, 64, 64}, pixels)).build();
        OipBinary.Body body = OIP_BINARY.encodeRequest(r, true, true);
        // chunked transfer encoding, cut inside the JSON header and inside floats: the node
        // receives the body as several pieces and must read the tensor across them
        byte[] b = body.bytes();
        int[] cuts = {0, body.jsonLength() / 2, body.jsonLength() + 3, body.jsonLength() + 4099, b.length - 5, b.length};
        List<byte[]> pieces = new ArrayList<>();
        for (int i = 1; i < cuts.length; i++) {
            pieces.add(Arrays.copyOfRange(b, cuts[i - 1], cuts[i]));
        }
        Reply whole = post("conv", body);
        Reply inPieces = send(request("conv", Integer.toString(body.jsonLength()))
                .POST(HttpRequest.BodyPublishers.ofByteArrays(pieces)));

        assertEquals(200, whole.status(), whole.text());
        assertEquals(200, inPieces.status(), inPieces.text());
        assertTrue(decode(whole).output("features").contentEquals(decode(inPieces).output("features")));
    }

    @Test
    void binaryInputsWithoutBinaryOutputsAnswerPlainJson() throws IOException {
        InferenceRequest r = InferenceRequest.builder("two")
                .input("a", Tensor.ofFloats(new long[] {1, 3}, 1, 2, 3))
                .input("b", Tensor.ofFloats(new long[] {1, 3}, 4, 5, 6)).build();
        Reply reply = post("two", OIP_BINARY.encodeRequest(r, true, false));
        assertEquals(200, reply.status(), reply.text());
        assertEquals("application/json", reply.contentType());
        assertTrue(reply.headerLength().isEmpty());
        assertEquals(18.0, JSON.readTree(reply.body()).at("/outputs/1/data/2").asDouble(), 1e-6);
    }

    @Test
    void aJsonRequestCanAskForBinaryOutputs() {
        byte[] body = ("{\"inputs\":[{\"name\":\"a\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]},"
                + "{\"name\":\"b\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[4,5,6]}],"
                + "\"parameters\":{\"binary_data_output\":true}}").getBytes(StandardCharsets.UTF_8);
        Reply reply = post("two", body, null);
        assertEquals(200, reply.status(), reply.text());
        assertEquals("application/octet-stream", reply.contentType());
        InferenceResponse r = decode(reply);
        assertArrayEquals(new float[] {5, 7, 9}, r.output("sum").floats());
        assertArrayEquals(new float[] {4, 10, 18}, r.output("product").floats());
    }

    @Test
    void onlyTheOutputsAskedForComeAsBinary() throws IOException {
        String header = "{\"inputs\":[{\"name\":\"a\",\"shape\":[1,3],\"datatype\":\"FP32\","
                + "\"parameters\":{\"binary_data_size\":12}},"
                + "{\"name\":\"b\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[4,5,6]}],"
                + "\"outputs\":[{\"name\":\"product\",\"parameters\":{\"binary_data\":true}},{\"name\":\"sum\"}]}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        Reply reply = post("two", concat(h, f32(1, 2, 3)), Integer.toString(h.length));

        assertEquals(200, reply.status(), reply.text());
        assertEquals("application/octet-stream", reply.contentType());
        int jsonLength = Integer.parseInt(reply.headerLength().orElseThrow());
        Map<String, JsonNode> outputs = new HashMap<>();
        JSON.readTree(new String(reply.body(), 0, jsonLength, StandardCharsets.UTF_8)).get("outputs")
                .forEach(o -> outputs.put(o.get("name").asText(), o));
        assertEquals(12, outputs.get("product").at("/parameters/binary_data_size").asInt());
        assertFalse(outputs.get("product").has("data"));
        assertEquals(9.0, outputs.get("sum").at("/data/2").asDouble(), 1e-6);
        assertFalse(outputs.get("sum").has("parameters"));
        assertEquals(jsonLength + 12, reply.body().length);
        ByteBuffer raw = ByteBuffer.wrap(reply.body(), jsonLength, 12).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(4f, raw.getFloat());
        assertEquals(10f, raw.getFloat());
        assertEquals(18f, raw.getFloat());
    }

    @Test
    void everyTypeCrossesTheWireAsBinary() {
        InferenceRequest r = InferenceRequest.builder("types")
                .input("fp64", Tensor.ofDoubles(new long[] {1, 2}, Double.NaN, Double.NEGATIVE_INFINITY))
                .input("int32", Tensor.ofInts(new long[] {1, 2}, Integer.MIN_VALUE, 7))
                .input("uint8", Tensor.ofUint8(new long[] {1, 2}, (byte) 255, (byte) 0))
                .input("bool", Tensor.ofBooleans(new long[] {1, 2}, true, false))
                .input("int64", Tensor.ofLongs(new long[] {1, 2}, -9007199254740993L, Long.MAX_VALUE)).build();
        Reply reply = post("types", OIP_BINARY.encodeRequest(r, true, true));
        assertEquals(200, reply.status(), reply.text());
        InferenceResponse out = decode(reply);
        for (String name : TestModels.ALL_TYPES_INPUTS) {
            Tensor sent = r.inputs().stream().filter(t -> t.name().equals(name)).findFirst().orElseThrow().tensor();
            assertTrue(sent.contentEquals(out.output(name + "_out")), name);
        }
    }

    @Test
    void malformedBinaryBodiesAre400WithAJsonError() throws IOException {
        String header = "{\"inputs\":[{\"name\":\"a\",\"shape\":[1,3],\"datatype\":\"FP32\","
                + "\"parameters\":{\"binary_data_size\":12}},"
                + "{\"name\":\"b\",\"shape\":[1,3],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":12}}]}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        String length = Integer.toString(h.length);

        assertError(post("two", concat(h, f32(1, 2, 3, 4, 5, 6, 7)), length), "the body has 4 bytes more than its"
                + " inputs declare: 28 bytes follow the " + h.length + "-byte JSON header, but the inputs'"
                + " binary_data_size add up to 24");
        assertError(post("two", concat(h, f32(1, 2, 3, 4, 5)), length), "input 'b': binary_data_size is 12, but"
                + " only 8 bytes are left in the body (20 bytes follow the " + h.length + "-byte JSON header, earlier"
                + " inputs take 12)");
        assertError(post("two", concat(h, f32(1, 2, 3, 4, 5, 6)), "9999"), "header Inference-Header-Content-Length"
                + " is 9999, more than the " + (h.length + 24) + "-byte body");
        assertError(post("two", concat(h, f32(1, 2, 3, 4, 5, 6)), "-1"), "header Inference-Header-Content-Length"
                + " must be the byte length of the JSON at the start of the body (a whole number), got '-1'");
        assertError(post("two", h, null), "input 'a': has \"binary_data_size\" but the request has no"
                + " Inference-Header-Content-Length header; send that header with the byte length of the JSON,"
                + " followed by the raw tensor bytes, or send \"data\" as a JSON array");
        byte[] bytes = "{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"BYTES\",\"parameters\":{\"binary_data_size\":5}}]}"
                .getBytes(StandardCharsets.UTF_8);
        assertError(post("two", concat(bytes, new byte[] {1, 0, 0, 0, 'x'}), Integer.toString(bytes.length)),
                "input 'a': unsupported datatype 'BYTES' (supported: FP32, FP64, INT8, UINT8, INT16, INT32, INT64, BOOL)");
    }

    @Test
    void modelErrorsOnABinaryRequestStayJson() throws IOException {
        InferenceRequest r = InferenceRequest.builder("two")
                .input("a", Tensor.ofFloats(new long[] {1, 2}, 1, 2))
                .input("b", Tensor.ofFloats(new long[] {1, 2}, 4, 5)).build();
        Reply reply = post("two", OIP_BINARY.encodeRequest(r, true, true));
        assertEquals(400, reply.status(), reply.text());
        assertEquals("application/json", reply.contentType());
        assertEquals("input 'a': shape [1, 2] does not match the model's [batch, 3] (dimension 1 must be 3)",
                JSON.readTree(reply.body()).get("error").asText());
        assertEquals(404, post("nope", OIP_BINARY.encodeRequest(r, true, true)).status());
    }

    // ---------------------------------------------------------------- helpers

    private static void assertError(Reply r, String message) throws IOException {
        assertEquals(400, r.status(), r.text());
        assertEquals("application/json", r.contentType());
        assertEquals(message, JSON.readTree(r.body()).get("error").asText(), r.text());
    }

    /** The pixels of a 3x64x64 image, uniform in [-1, 1). */
    private static float[] randomImage(long seed) {
        Random random = new Random(seed);
        float[] pixels = new float[3 * 64 * 64];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = random.nextFloat() * 2 - 1;
        }
        return pixels;
    }

    private static InferenceResponse decode(Reply r) {
        return OIP_BINARY.decodeResponse(r.body(), r.headerLength().orElse(null));
    }

    private static OipBinary.Body binaryBodyOf(byte[] json) {
        return new OipBinary.Body(json, json.length, false);
    }

    private static Reply post(String model, OipBinary.Body body) {
        return post(model, body.bytes(), body.binary() ? Integer.toString(body.jsonLength()) : null);
    }

    /** POSTs {@code body} to the model's infer endpoint, with the header length if it is not null. */
    private static Reply post(String model, byte[] body, String headerLength) {
        return send(request(model, headerLength).POST(HttpRequest.BodyPublishers.ofByteArray(body)));
    }

    /** A request to the model's infer endpoint, with the header length if it is not null. */
    private static HttpRequest.Builder request(String model, String headerLength) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(node.url() + "/v2/models/" + model + "/infer"))
                .timeout(Duration.ofSeconds(60))
                .header("Content-Type", headerLength == null ? "application/json" : "application/octet-stream");
        if (headerLength != null) {
            b.header(OipBinary.HEADER_LENGTH, headerLength);
        }
        return b;
    }

    private static Reply send(HttpRequest.Builder b) {
        try {
            HttpResponse<byte[]> r = CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
            return new Reply(r.statusCode(), r.headers().firstValue("Content-Type").orElse(""),
                    r.headers().firstValue(OipBinary.HEADER_LENGTH), r.body());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    private static byte[] f32(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) {
            b.putFloat(x);
        }
        return b.array();
    }
}
