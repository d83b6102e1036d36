package io.meshinfer.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.api.ErrorKind;
import io.meshinfer.api.InferenceException.InvalidInput;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.protocol.OipBinary.BinaryOutputs;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class OipBinaryTest {
    private static final long DEFAULT_TIMEOUT = 5_000;
    private static final long MAX_TIMEOUT = 60_000;
    private static final String SUPPORTED = "FP32, FP64, INT8, UINT8, INT16, INT32, INT64, BOOL";
    private final OipJson json = new OipJson(1_000_000);
    private final OipBinary codec = new OipBinary(json);

    // ---------------------------------------------------------------- round trips

    @Test
    void everyDatatypeRoundTripsAsBinaryInputs() {
        List<NamedTensor> tensors = everyDatatype();
        InferenceRequest.Builder b = InferenceRequest.builder("m").id("req-1");
        tensors.forEach(t -> b.input(t.name(), t.tensor()));
        InferenceRequest sent = b.output("fp32").residency("eu").build();

        OipBinary.Body body = codec.encodeRequest(sent, true, false);
        assertTrue(body.binary());
        long raw = tensors.stream().mapToLong(t -> t.tensor().byteSize()).sum();
        assertEquals(body.jsonLength() + raw, body.bytes().length);
        String header = new String(body.bytes(), 0, body.jsonLength(), StandardCharsets.UTF_8);
        assertFalse(header.contains("\"data\""), header);

        OipBinary.Request got = codec.decodeRequest(body.bytes(), Integer.toString(body.jsonLength()), "m", "2",
                DEFAULT_TIMEOUT, MAX_TIMEOUT);
        assertEquals("req-1", got.request().id());
        assertEquals("2", got.request().version());
        assertEquals(List.of("fp32"), got.request().outputs());
        assertSameTensors(tensors, got.request().inputs());
        assertEquals(BinaryOutputs.NONE, got.binaryOutputs());
    }

    @Test
    void everyDatatypeRoundTripsAsBinaryOutputs() {
        List<NamedTensor> tensors = everyDatatype();
        InferenceResponse sent = new InferenceResponse("r", "m", "1", tensors, "n1", "eu", 2, false);

        OipBinary.Body body = codec.encodeResponse(sent, BinaryOutputs.ALL);
        assertTrue(body.binary());
        InferenceResponse got = codec.decodeResponse(body.bytes(), Integer.toString(body.jsonLength()));

        assertEquals("r", got.id());
        assertEquals("n1", got.node());
        assertEquals(2, got.batchRows());
        assertSameTensors(tensors, got.outputs());
    }

    /** The layout a Triton client sends, built by hand: little-endian, row-major, BOOL as 0/1 bytes. */
    @Test
    void rawBytesAreLittleEndianRowMajorAsTritonClientsSendThem() {
        String header = "{'inputs':["
                + "{'name':'f','datatype':'FP32','shape':[2,2],'parameters':{'binary_data_size':16}},"
                + "{'name':'d','datatype':'FP64','shape':[1],'parameters':{'binary_data_size':8}},"
                + "{'name':'s','datatype':'INT16','shape':[2],'parameters':{'binary_data_size':4}},"
                + "{'name':'i','datatype':'INT32','shape':[1],'parameters':{'binary_data_size':4}},"
                + "{'name':'l','datatype':'INT64','shape':[1],'parameters':{'binary_data_size':8}},"
                + "{'name':'u','datatype':'UINT8','shape':[3],'parameters':{'binary_data_size':3}},"
                + "{'name':'b','datatype':'int8','shape':[1],'parameters':{'binary_data_size':1}},"
                + "{'name':'t','datatype':'BOOL','shape':[3],'parameters':{'binary_data_size':3}}]}";
        byte[] raw = concat(
                f32(1f, Float.NaN, Float.NEGATIVE_INFINITY, -0f),
                f64(Double.POSITIVE_INFINITY),
                new byte[] {0x01, 0x02, (byte) 0xFF, (byte) 0xFF},
                new byte[] {0x78, 0x56, 0x34, 0x12},
                new byte[] {0x01, 0, 0, 0, 0, 0, 0, (byte) 0x80},
                new byte[] {0, (byte) 128, (byte) 255},
                new byte[] {(byte) 0x80},
                new byte[] {1, 0, 1});

        List<NamedTensor> in = decodeBinary(header, raw).request().inputs();

        float[] f = in.get(0).tensor().floats();
        assertEquals(1f, f[0]);
        assertTrue(Float.isNaN(f[1]));
        assertEquals(Float.NEGATIVE_INFINITY, f[2]);
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(f[3]));
        assertEquals(Double.POSITIVE_INFINITY, in.get(1).tensor().doubles()[0]);
        assertArrayEquals(new short[] {0x0201, -1}, in.get(2).tensor().shorts());
        assertArrayEquals(new int[] {0x12345678}, in.get(3).tensor().ints());
        assertArrayEquals(new long[] {Long.MIN_VALUE + 1}, in.get(4).tensor().longs());
        assertEquals(255, in.get(5).tensor().bytes()[2] & 0xFF);
        assertEquals(DType.INT8, in.get(6).tensor().dtype());
        assertEquals(-128, in.get(6).tensor().bytes()[0]);
        assertArrayEquals(new boolean[] {true, false, true}, in.get(7).tensor().booleans());
    }

    @Test
    void jsonAndBinaryInputsMix() {
        String header = "{'inputs':["
                + "{'name':'a','datatype':'FP32','shape':[2],'data':[1.5,2.5]},"
                + "{'name':'b','datatype':'INT64','shape':[2],'parameters':{'binary_data_size':16,'other':[1]}},"
                + "{'data':[true,false],'name':'c','datatype':'BOOL','shape':[2]},"
                + "{'parameters':{'binary_data_size':2},'name':'d','datatype':'UINT8','shape':[1,2]}]}";

        List<NamedTensor> in = decodeBinary(header, i64(-7, 1L << 40), new byte[] {(byte) 255, 3})
                .request().inputs();

        assertEquals(List.of("a", "b", "c", "d"), in.stream().map(NamedTensor::name).toList());
        assertArrayEquals(new float[] {1.5f, 2.5f}, in.get(0).tensor().floats());
        assertArrayEquals(new long[] {-7, 1L << 40}, in.get(1).tensor().longs());
        assertArrayEquals(new boolean[] {true, false}, in.get(2).tensor().booleans());
        assertArrayEquals(new byte[] {(byte) 255, 3}, in.get(3).tensor().bytes());
    }

    @Test
    void aHeaderSpanningTheWholeBodyIsPlainJson() {
        byte[] body = body("{'inputs':[{'name':'x','datatype':'INT32','shape':[1],'data':[7]}]}");
        OipBinary.Request r = codec.decodeRequest(body, Integer.toString(body.length), "m", null, DEFAULT_TIMEOUT,
                MAX_TIMEOUT);
        assertArrayEquals(new int[] {7}, r.request().inputs().get(0).tensor().ints());
    }

    @Test
    void emptyTensorsTakeZeroBytes() {
        OipBinary.Request r = decodeBinary("{'inputs':[{'name':'x','datatype':'FP32','shape':[0,4],"
                + "'parameters':{'binary_data_size':0}},{'name':'y','datatype':'INT16','shape':[1],"
                + "'parameters':{'binary_data_size':2}}]}", new byte[] {5, 0});
        assertEquals(0, r.request().inputs().get(0).tensor().size());
        assertArrayEquals(new short[] {5}, r.request().inputs().get(1).tensor().shorts());

        InferenceResponse empty = response(new NamedTensor("y", Tensor.ofFloats(new long[] {0})));
        OipBinary.Body b = codec.encodeResponse(empty, BinaryOutputs.ALL);
        assertTrue(b.binary(), "a zero-byte binary output still needs the header");
        assertEquals(b.jsonLength(), b.bytes().length);
        assertEquals(0, codec.decodeResponse(b.bytes(), Integer.toString(b.jsonLength())).output("y").size());
    }

    // ---------------------------------------------------------------- which outputs are binary

    @Test
    void binaryDataOutputAsksForEveryOutput() {
        OipBinary.Request r = decodeJson("{'inputs':[],'parameters':{'binary_data_output':true}}");
        assertTrue(r.binaryOutputs().isBinary("y"));
        assertTrue(r.binaryOutputs().isBinary("anything"));
        assertFalse(decodeJson("{'inputs':[],'parameters':{'binary_data_output':false}}").binaryOutputs().isBinary("y"));
        assertFalse(decodeJson("{'inputs':[]}").binaryOutputs().isBinary("y"));
    }

    @Test
    void binaryDataOnARequestedOutputOverridesBinaryDataOutput() {
        OipBinary.Request r = decodeJson("{'inputs':[],'outputs':[{'name':'a','parameters':{'binary_data':true}},"
                + "{'name':'b'},{'parameters':{'binary_data':false,'classification':0},'name':'c'}]}");
        assertEquals(List.of("a", "b", "c"), r.request().outputs());
        assertEquals(new BinaryOutputs(false, Map.of("a", true, "c", false)), r.binaryOutputs());
        assertTrue(r.binaryOutputs().isBinary("a"));
        assertFalse(r.binaryOutputs().isBinary("b"));

        OipBinary.Request all = decodeJson("{'inputs':[],'parameters':{'binary_data_output':true},"
                + "'outputs':[{'name':'a'},{'name':'c','parameters':{'binary_data':false}}]}");
        assertTrue(all.binaryOutputs().isBinary("a"));
        assertFalse(all.binaryOutputs().isBinary("c"));
    }

    @Test
    void selectedBinaryOutputsGoAfterTheJsonInOrderAndTheRestStayJson() {
        InferenceResponse r = response(
                new NamedTensor("a", Tensor.ofFloats(new long[] {2}, 1f, Float.NaN)),
                new NamedTensor("b", Tensor.ofInts(new long[] {1}, 3)),
                new NamedTensor("c", Tensor.ofUint8(new long[] {2}, (byte) 255, (byte) 1)));

        OipBinary.Body body = codec.encodeResponse(r, new BinaryOutputs(false, Map.of("a", true, "c", true)));

        assertTrue(body.binary());
        assertEquals("{\"model_name\":\"m\",\"id\":\"r\",\"parameters\":{\"batch_rows\":1},\"outputs\":["
                + "{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[2],\"parameters\":{\"binary_data_size\":8}},"
                + "{\"name\":\"b\",\"datatype\":\"INT32\",\"shape\":[1],\"data\":[3]},"
                + "{\"name\":\"c\",\"datatype\":\"UINT8\",\"shape\":[2],\"parameters\":{\"binary_data_size\":2}}]}",
                new String(body.bytes(), 0, body.jsonLength(), StandardCharsets.UTF_8));
        assertArrayEquals(concat(f32(1f, Float.NaN), new byte[] {(byte) 255, 1}),
                Arrays.copyOfRange(body.bytes(), body.jsonLength(), body.bytes().length));
        assertSameTensors(r.outputs(), codec.decodeResponse(body.bytes(), Integer.toString(body.jsonLength())).outputs());
    }

    @Test
    void withoutBinaryOutputsTheResponseIsExactlyTheJsonCodecs() {
        InferenceResponse r = response(new NamedTensor("a", Tensor.ofFloats(new long[] {1}, 2f)));
        OipBinary.Body body = codec.encodeResponse(r, new BinaryOutputs(true, Map.of("a", false)));
        assertFalse(body.binary());
        assertEquals(body.bytes().length, body.jsonLength());
        assertArrayEquals(json.encodeResponse(r), body.bytes());
        assertArrayEquals(json.encodeResponse(r), codec.encodeResponse(r, BinaryOutputs.NONE).bytes());
    }

    @Test
    void aClientRequestCanAskForBinaryOutputs() {
        InferenceRequest r = InferenceRequest.builder("m").input("x", Tensor.ofFloats(new long[] {1}, 1f)).build();
        OipBinary.Body body = codec.encodeRequest(r, false, true);
        assertFalse(body.binary());
        OipBinary.Request back = codec.decodeRequest(body.bytes(), null, "m", null, DEFAULT_TIMEOUT, MAX_TIMEOUT);
        assertEquals(BinaryOutputs.ALL, back.binaryOutputs());
        assertArrayEquals(new float[] {1f}, back.request().inputs().get(0).tensor().floats());
    }

    @Test
    void binaryIsAFractionOfJsonForAnImage() {
        Random random = new Random(1);
        float[] pixels = new float[3 * 64 * 64];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = random.nextFloat();
        }
        InferenceRequest r = InferenceRequest.builder("conv").id("img")
                .input("image", Tensor.ofFloats(new long[] {1, 3, 64, 64}, pixels)).build();
        OipBinary.Body binary = codec.encodeRequest(r, true, true);
        byte[] plain = json.encodeRequest(r);
        assertEquals(binary.jsonLength() + 4L * pixels.length, binary.bytes().length);
        assertTrue(binary.bytes().length * 2 < plain.length, binary.bytes().length + " vs " + plain.length);
    }

    // ---------------------------------------------------------------- bad input

    private static final String X = "{'inputs':[{'name':'x','datatype':'FP32','shape':[2,3],";

    static Stream<Arguments> malformedBinaryRequests() {
        byte[] six = f32(1, 2, 3, 4, 5, 6);
        String sized = X + "'parameters':{'binary_data_size':24}}";
        return Stream.of(
                // The header length itself.
                bad(sized + "]}", "500", six, "header Inference-Header-Content-Length is 500, more than the {B}-byte body"),
                bad(sized + "]}", "99999999999999999999999", six,
                        "header Inference-Header-Content-Length is 99999999999999999999999, more than the {B}-byte body"),
                bad(sized + "]}", "-5", six, "header Inference-Header-Content-Length must be the byte length of the"
                        + " JSON at the start of the body (a whole number), got '-5'"),
                bad(sized + "]}", "abc", six, "header Inference-Header-Content-Length must be the byte length of the"
                        + " JSON at the start of the body (a whole number), got 'abc'"),
                bad(sized + "]}", "12.5", six, "header Inference-Header-Content-Length must be the byte length of the"
                        + " JSON at the start of the body (a whole number), got '12.5'"),
                bad(sized + "]}", "", six, "header Inference-Header-Content-Length must be the byte length of the"
                        + " JSON at the start of the body (a whole number), got ''"),
                bad(sized + "]}", "0", six,
                        "header Inference-Header-Content-Length is 0, but the JSON at the start of the body cannot be empty"),
                // Sizes that do not fit the shape, or are not sizes.
                bad(X + "'parameters':{'binary_data_size':20}}]}", null, six,
                        "input 'x': binary_data_size is 20, but shape [2, 3] of FP32 needs 24 bytes"),
                bad("{'inputs':[{'name':'ok','datatype':'INT8','shape':[1],'parameters':{'binary_data_size':1}},"
                        + "{'name':'l','datatype':'INT64','shape':[2],'parameters':{'binary_data_size':8}}]}", null,
                        new byte[9], "input 'l': binary_data_size is 8, but shape [2] of INT64 needs 16 bytes"),
                bad("{'inputs':[{'name':'t','datatype':'BOOL','shape':[3],'parameters':{'binary_data_size':12}}]}",
                        null, new byte[12], "input 't': binary_data_size is 12, but shape [3] of BOOL needs 3 bytes"),
                bad(X + "'parameters':{'binary_data_size':'24'}}]}", null, six,
                        "input 'x': parameter \"binary_data_size\" must be a non-negative integer (bytes), got \"24\""),
                bad(X + "'parameters':{'binary_data_size':-24}}]}", null, six,
                        "input 'x': parameter \"binary_data_size\" must be a non-negative integer (bytes), got -24"),
                bad(X + "'parameters':{'binary_data_size':24.0}}]}", null, six,
                        "input 'x': parameter \"binary_data_size\" must be a non-negative integer (bytes), got 24.0"),
                bad(X + "'parameters':{'binary_data_size':null}}]}", null, six,
                        "input 'x': parameter \"binary_data_size\" must be a non-negative integer (bytes), got null"),
                bad(X + "'parameters':{'binary_data_size':24,'binary_data_size':24}}]}", null, six,
                        "input 'x': duplicate parameter \"binary_data_size\""),
                // Bytes left over, or missing.
                bad(sized + "]}", null, concat(six, new byte[4]), "the body has 4 bytes more than its inputs declare:"
                        + " 28 bytes follow the {J}-byte JSON header, but the inputs' binary_data_size add up to 24"),
                bad("{'inputs':[{'name':'x','datatype':'FP32','shape':[1],'data':[1]}]}", null, new byte[3],
                        "the body has 3 bytes more than its inputs declare: 3 bytes follow the {J}-byte JSON header,"
                                + " but no input has binary_data_size"),
                bad(sized + "]}", null, Arrays.copyOf(six, 20), "input 'x': binary_data_size is 24, but only 20 bytes"
                        + " are left in the body (20 bytes follow the {J}-byte JSON header)"),
                bad(sized + ",{'name':'y','datatype':'INT32','shape':[2],'parameters':{'binary_data_size':8}}]}", null,
                        concat(six, new byte[5]), "input 'y': binary_data_size is 8, but only 5 bytes are left in the"
                                + " body (29 bytes follow the {J}-byte JSON header, earlier inputs take 24)"),
                // A large shape is refused before anything is allocated for it.
                bad(X.replace("[2,3]", "[100000,100000]") + "'parameters':{'binary_data_size':40000000000}}]}", null,
                        six, "input 'x': shape [100000, 100000] exceeds the limit of 1000000 elements"),
                bad(X.replace("[2,3]", "[1000000]") + "'parameters':{'binary_data_size':4000000}}]}", null,
                        six, "input 'x': binary_data_size is 4000000, but only 24 bytes are left in the body"
                                + " (24 bytes follow the {J}-byte JSON header)"),
                // Types meshinfer does not hold, and bytes that are not of the type.
                bad("{'inputs':[{'name':'s','datatype':'BYTES','shape':[1],'parameters':{'binary_data_size':9}}]}",
                        null, new byte[] {5, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'},
                        "input 's': unsupported datatype 'BYTES' (supported: " + SUPPORTED + ")"),
                bad("{'inputs':[{'name':'h','datatype':'FP16','shape':[1],'parameters':{'binary_data_size':2}}]}",
                        null, new byte[2], "input 'h': unsupported datatype 'FP16' (supported: " + SUPPORTED + ")"),
                bad("{'inputs':[{'name':'t','datatype':'BOOL','shape':[4],'parameters':{'binary_data_size':4}}]}",
                        null, new byte[] {1, 0, 2, 1}, "input 't': binary element 2 is 2, not a boolean (0 or 1)"),
                // Data twice, or in the wrong place.
                bad(X + "'parameters':{'binary_data_size':24},'data':[1,2,3,4,5,6]}]}", null, six,
                        "input 'x': has both \"data\" and \"binary_data_size\"; send one of them"),
                bad("{'inputs':[{'data':[1],'name':'x','datatype':'FP32','shape':[1],"
                        + "'parameters':{'binary_data_size':4}}]}", null, f32(1),
                        "input 'x': has both \"data\" and \"binary_data_size\"; send one of them"),
                bad(sized + "],'parameters':{'binary_data_output':'yes'}}", null, six,
                        "parameter \"binary_data_output\" must be true or false"),
                bad(sized + "],'outputs':[{'name':'y','parameters':{'binary_data':1}}]}", null, six,
                        "outputs[0]: parameter \"binary_data\" must be true or false"),
                // The JSON header cut short or run long is malformed JSON, as in the JSON codec.
                bad(sized + "]}", "{J-2}", six, "malformed JSON at line 1 column {J-1}: Unexpected end-of-input:"
                        + " expected close marker for Array (start marker at line 1 column 11)"),
                // Binary data is taken as its tensor is read, before the JSON's end is checked.
                bad(sized + "]}", "{J+4}", six, "input 'x': binary_data_size is 24, but only 20 bytes are left in the"
                        + " body (20 bytes follow the {J+4}-byte JSON header)"),
                bad(sized + "]}", "{J+4}", concat(six, new byte[4]), "malformed JSON at line 1 column {J+2}:"
                        + " Illegal character ((CTRL-CHAR, code 0)): only regular white space (\\r, \\n, \\t) is allowed"
                        + " between tokens"));
    }

    @ParameterizedTest(name = "{3}")
    @MethodSource("malformedBinaryRequests")
    void malformedBinaryRequestIsRefusedWithAPreciseMessage(String header, String headerLength, byte[] raw,
            String message) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        byte[] b = concat(h, raw);
        String length = headerLength == null ? Integer.toString(h.length) : expand(headerLength, h.length, b.length);
        InvalidInput e = assertThrows(InvalidInput.class, () -> decodeBothWays(b, length));
        assertEquals(expand(message, h.length, b.length), e.getMessage());
        assertEquals(ErrorKind.INVALID_INPUT, e.kind());
    }

    @Test
    void binaryDataSizeWithoutTheHeaderNamesTheHeader() {
        InvalidInput e = assertThrows(InvalidInput.class, () -> decodeJson(X + "'parameters':{'binary_data_size':24}}]}"));
        assertEquals("input 'x': has \"binary_data_size\" but the request has no Inference-Header-Content-Length header;"
                + " send that header with the byte length of the JSON, followed by the raw tensor bytes, or send"
                + " \"data\" as a JSON array", e.getMessage());
        // The JSON codec alone still refuses it as unsupported, and with data the size is ignored as before.
        assertEquals("input 'x': binary tensor data (\"binary_data_size\") is not supported, send \"data\" as a JSON"
                + " array", assertThrows(InvalidInput.class, () -> json.decodeRequest(
                        body(X + "'parameters':{'binary_data_size':24}}]}"), "m", null, DEFAULT_TIMEOUT, MAX_TIMEOUT))
                .getMessage());
        assertEquals(6, decodeJson(X + "'parameters':{'binary_data_size':24},'data':[1,2,3,4,5,6]}]}")
                .request().inputs().get(0).tensor().size());
    }

    @Test
    void malformedBinaryResponsesNameTheOutput() {
        byte[] h = body("{'model_name':'m','outputs':[{'name':'y','datatype':'FP64','shape':[2],"
                + "'parameters':{'binary_data_size':16}}]}");
        assertEquals("output 'y': binary_data_size is 16, but only 8 bytes are left in the body (8 bytes follow the "
                + h.length + "-byte JSON header)", assertThrows(InvalidInput.class,
                        () -> codec.decodeResponse(concat(h, new byte[8]), Integer.toString(h.length))).getMessage());
        assertEquals("the body has 1 bytes more than its outputs declare: 17 bytes follow the " + h.length
                + "-byte JSON header, but the outputs' binary_data_size add up to 16", assertThrows(InvalidInput.class,
                        () -> codec.decodeResponse(concat(h, new byte[17]), Integer.toString(h.length))).getMessage());
        assertEquals("output 'y': has \"binary_data_size\" but the response has no Inference-Header-Content-Length"
                + " header; send that header with the byte length of the JSON, followed by the raw tensor bytes, or"
                + " send \"data\" as a JSON array", assertThrows(InvalidInput.class,
                        () -> codec.decodeResponse(h, null)).getMessage());
    }

    @Test
    void corruptedBinaryBodiesFailOnlyWithInvalidInput() {
        InferenceRequest r = InferenceRequest.builder("m").id("a")
                .input("f", Tensor.ofFloats(new long[] {2, 2}, 1f, Float.NaN, -2f, 3.5f))
                .input("b", Tensor.ofBooleans(new long[] {3}, true, false, true))
                .input("l", Tensor.ofLongs(new long[] {1}, 42)).build();
        OipBinary.Body seed = codec.encodeRequest(r, true, true);
        Random random = new Random(11);
        for (int round = 0; round < 20_000; round++) {
            byte[] b = seed.bytes().clone();
            int headerLength = seed.jsonLength();
            for (int edits = 1 + random.nextInt(3); edits > 0; edits--) {
                switch (random.nextInt(4)) {
                    case 0 -> {
                        if (b.length > 0) {
                            b[random.nextInt(b.length)] = (byte) random.nextInt(256);
                        }
                    }
                    case 1 -> b = Arrays.copyOf(b, random.nextInt(b.length + 1));
                    case 2 -> b = Arrays.copyOf(b, b.length + 1 + random.nextInt(8));
                    default -> headerLength += random.nextInt(9) - 4;
                }
            }
            byte[] body = b;
            String length = Integer.toString(headerLength);
            try {
                decodeBothWays(body, length);
            } catch (InvalidInput expected) {
                assertTrue(expected.getMessage().length() < 300, expected.getMessage());
            }
        }
    }

    @Test
    void aBodyInAReceivedBufferDecodesAsTheSameBytesInAnArray() {
        InferenceRequest r = InferenceRequest.builder("m").id("a")
                .input("f", Tensor.ofFloats(new long[] {2, 2}, 1f, Float.NaN, -2f, 3.5f))
                .input("j", Tensor.ofInts(new long[] {2}, 7, -7))
                .input("b", Tensor.ofBooleans(new long[] {3}, true, false, true)).build();
        OipBinary.Body binary = codec.encodeRequest(r, true, true);
        OipBinary.Body plain = codec.encodeRequest(r, false, false);
        assertTrue(binary.binary());
        assertSameTensors(r.inputs(), decodeBothWays(binary.bytes(), Integer.toString(binary.jsonLength()))
                .request().inputs());
        assertSameTensors(r.inputs(), decodeBothWays(plain.bytes(), null).request().inputs());
        // a JSON tensor beside binary ones: the JSON header is read from its own copy
        byte[] h = body("{'inputs':[{'name':'x','datatype':'FP32','shape':[1],'data':[2.5]},"
                + "{'name':'y','datatype':'INT8','shape':[2],'parameters':{'binary_data_size':2}}]}");
        OipBinary.Request mixed = decodeBothWays(concat(h, new byte[] {-1, 1}), Integer.toString(h.length));
        assertEquals(2.5f, mixed.request().inputs().get(0).tensor().floats()[0]);
        assertArrayEquals(new byte[] {-1, 1}, mixed.request().inputs().get(1).tensor().bytes());
    }

    // ---------------------------------------------------------------- helpers

    private static Arguments bad(String header, String headerLength, byte[] raw, String message) {
        return Arguments.of(header.replace('\'', '"'), headerLength, raw, message);
    }

    /** Replaces {J}, {J+n}, {J-n} (the JSON length) and {B} (the body length) in {@code s}. */
    private static String expand(String s, int jsonLength, int bodyLength) {
        String out = s.replace("{B}", Integer.toString(bodyLength)).replace("{J}", Integer.toString(jsonLength));
        for (int d = 1; d <= 9; d++) {
            out = out.replace("{J+" + d + "}", Integer.toString(jsonLength + d))
                    .replace("{J-" + d + "}", Integer.toString(jsonLength - d));
        }
        return out;
    }

    private OipBinary.Request decodeBinary(String header, byte[]... raw) {
        byte[] h = body(header);
        return codec.decodeRequest(concat(h, concat(raw)), Integer.toString(h.length), "m", null, DEFAULT_TIMEOUT,
                MAX_TIMEOUT);
    }

    private OipBinary.Request decodeJson(String body) {
        return codec.decodeRequest(body(body), null, "m", null, DEFAULT_TIMEOUT, MAX_TIMEOUT);
    }

    private static InferenceResponse response(NamedTensor... outputs) {
        return new InferenceResponse("r", "m", null, List.of(outputs), null, null, 1, false);
    }

    private static byte[] body(String json) {
        return json.replace('\'', '"').getBytes(StandardCharsets.UTF_8);
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

    private static byte[] f64(double... v) {
        ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (double x : v) {
            b.putDouble(x);
        }
        return b.array();
    }

    private static byte[] i64(long... v) {
        ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long x : v) {
            b.putLong(x);
        }
        return b.array();
    }

    private static List<NamedTensor> everyDatatype() {
        return List.of(
                new NamedTensor("fp32", Tensor.ofFloats(new long[] {2, 4}, 0f, -0f, 1.1f, Float.MIN_VALUE,
                        Float.MAX_VALUE, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY)),
                new NamedTensor("fp64", Tensor.ofDoubles(new long[] {6}, 0.1, -0.0, Double.MIN_VALUE,
                        Double.MAX_VALUE, Double.NaN, Double.NEGATIVE_INFINITY)),
                new NamedTensor("int8", Tensor.of(DType.INT8, new long[] {3}, new byte[] {-128, 0, 127})),
                new NamedTensor("uint8", Tensor.ofUint8(new long[] {3}, (byte) 0, (byte) 128, (byte) 255)),
                new NamedTensor("int16", Tensor.of(DType.INT16, new long[] {3},
                        new short[] {Short.MIN_VALUE, 0, Short.MAX_VALUE})),
                new NamedTensor("int32", Tensor.ofInts(new long[] {3}, Integer.MIN_VALUE, 0, Integer.MAX_VALUE)),
                new NamedTensor("int64", Tensor.ofLongs(new long[] {3}, Long.MIN_VALUE, 0, Long.MAX_VALUE)),
                new NamedTensor("bool", Tensor.ofBooleans(new long[] {1, 2}, true, false)));
    }

    /**
     * Decodes {@code body} from an array and from a read-only buffer over it, placed after other
     * bytes in a larger array (as a received chunk holds a body after its HTTP headers), and
     * checks that both give the same request, or fail with the same message.
     */
    private OipBinary.Request decodeBothWays(byte[] body, String headerLength) {
        byte[] chunk = new byte[body.length + 24];
        Arrays.fill(chunk, (byte) '7');
        System.arraycopy(body, 0, chunk, 16, body.length);
        ByteBuffer received = ByteBuffer.wrap(chunk, 16, body.length).asReadOnlyBuffer();
        OipBinary.Request fromArray;
        try {
            fromArray = codec.decodeRequest(body, headerLength, "m", null, DEFAULT_TIMEOUT, MAX_TIMEOUT);
        } catch (InvalidInput e) {
            assertEquals(e.getMessage(), assertThrows(InvalidInput.class, () -> codec.decodeRequest(received,
                    headerLength, "m", null, DEFAULT_TIMEOUT, MAX_TIMEOUT)).getMessage());
            assertEquals(16, received.position());
            throw e;
        }
        OipBinary.Request fromBuffer = codec.decodeRequest(received, headerLength, "m", null, DEFAULT_TIMEOUT,
                MAX_TIMEOUT);
        assertEquals(16, received.position(), "the decode moved the caller's buffer");
        InferenceRequest a = fromArray.request();
        InferenceRequest b = fromBuffer.request();
        // (not the id: a body without one gets a new one at each decode)
        assertEquals(List.of(a.model(), String.valueOf(a.version()), a.outputs(), a.timeoutMillis(), a.residency(),
                String.valueOf(a.routingKey())), List.of(b.model(), String.valueOf(b.version()), b.outputs(),
                b.timeoutMillis(), b.residency(), String.valueOf(b.routingKey())));
        assertSameTensors(a.inputs(), b.inputs());
        assertEquals(fromArray.binaryOutputs(), fromBuffer.binaryOutputs());
        return fromBuffer;
    }

    private static void assertSameTensors(List<NamedTensor> expected, List<NamedTensor> actual) {
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++) {
            NamedTensor e = expected.get(i);
            NamedTensor a = actual.get(i);
            assertEquals(e.name(), a.name());
            assertTrue(e.tensor().contentEquals(a.tensor()),
                    e.name() + ": expected " + e.tensor() + ", got " + a.tensor());
        }
    }
}
