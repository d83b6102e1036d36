package io.meshinfer.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.api.EnsembleReport;
import io.meshinfer.api.ErrorKind;
import io.meshinfer.api.InferenceException.InvalidInput;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class OipJsonTest {
    private static final long DEFAULT_TIMEOUT = 5_000;
    private static final long MAX_TIMEOUT = 60_000;
    private final OipJson codec = new OipJson(1_000_000);

    // ---------------------------------------------------------------- round trips

    @Test
    void everyDatatypeRoundTripsThroughARequest() {
        List<NamedTensor> tensors = everyDatatype();
        InferenceRequest.Builder b = InferenceRequest.builder("m").id("req-1").timeout(Duration.ofMillis(1234));
        tensors.forEach(t -> b.input(t.name(), t.tensor()));
        InferenceRequest sent = b.output("fp32").output("bool").residency("eu-west", "eu-central").build();

        InferenceRequest got = codec.decodeRequest(codec.encodeRequest(sent), "m", "3", DEFAULT_TIMEOUT, MAX_TIMEOUT);

        assertEquals("req-1", got.id());
        assertEquals("m", got.model());
        assertEquals("3", got.version());
        assertEquals(1234, got.timeoutMillis());
        assertEquals(Set.of("eu-west", "eu-central"), got.residency());
        assertEquals(List.of("fp32", "bool"), got.outputs());
        assertSameTensors(tensors, got.inputs());
    }

    @Test
    void everyDatatypeRoundTripsThroughAResponse() {
        List<NamedTensor> tensors = everyDatatype();
        InferenceResponse sent = new InferenceResponse("req-2", "m", "4", tensors, "node-a", "eu-west", 7, true);

        InferenceResponse got = codec.decodeResponse(codec.encodeResponse(sent));

        assertEquals("req-2", got.id());
        assertEquals("m", got.model());
        assertEquals("4", got.version());
        assertEquals("node-a", got.node());
        assertEquals("eu-west", got.region());
        assertEquals(7, got.batchRows());
        assertTrue(got.islandMode());
        assertSameTensors(tensors, got.outputs());
    }

    @Test
    void arbitraryFloatBitPatternsReadBackExactly() {
        java.util.Random random = new java.util.Random(42);
        int n = 20_000;
        float[] floats = new float[n];
        double[] doubles = new double[n];
        for (int i = 0; i < n; i++) {
            floats[i] = Float.intBitsToFloat(random.nextInt());
            doubles[i] = Double.longBitsToDouble(random.nextLong());
        }
        List<NamedTensor> tensors = List.of(
                new NamedTensor("f", Tensor.ofFloats(new long[] {n}, floats)),
                new NamedTensor("d", Tensor.ofDoubles(new long[] {n}, doubles)));
        InferenceResponse got = codec.decodeResponse(codec.encodeResponse(
                new InferenceResponse("i", "m", null, tensors, null, null, 0, false)));
        assertSameTensors(tensors, got.outputs());
    }

    @Test
    void responseBodyWritesNonFiniteAsStringsAndUint8Unsigned() {
        InferenceResponse r = new InferenceResponse("r1", "m", "2", List.of(
                new NamedTensor("y", Tensor.ofFloats(new long[] {4},
                        Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 1.5f)),
                new NamedTensor("u", Tensor.ofUint8(new long[] {2}, (byte) 255, (byte) 0))),
                "n1", "eu", 3, false);

        assertEquals("{\"model_name\":\"m\",\"model_version\":\"2\",\"id\":\"r1\","
                + "\"parameters\":{\"node\":\"n1\",\"region\":\"eu\",\"batch_rows\":3},"
                + "\"outputs\":[{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[4],"
                + "\"data\":[\"NaN\",\"Infinity\",\"-Infinity\",1.5]},"
                + "{\"name\":\"u\",\"datatype\":\"UINT8\",\"shape\":[2],\"data\":[255,0]}]}",
                text(codec.encodeResponse(r)));
    }

    @Test
    void anEnsembleReportRoundTripsAndIsCheckedWhenDecoded() {
        InferenceResponse r = new InferenceResponse("r2", "fraud", "1", List.of(), "n1", "eu", 1, false, null,
                new EnsembleReport(List.of("m1@1", "m2@3"), List.of("m3: RESIDENCY_VIOLATION no region allowed")));
        InferenceResponse back = codec.decodeResponse(codec.encodeResponse(r));
        assertEquals(r.ensemble(), back.ensemble());
        assertNull(codec.decodeResponse(codec.encodeResponse(new InferenceResponse("r3", "m", "1", List.of(), "n1",
                "eu", 1, false))).ensemble(), "no report for a model that is not an ensemble");

        InvalidInput notStrings = assertThrows(InvalidInput.class, () -> codec.decodeResponse(body(
                "{'model_name':'e','parameters':{'ensemble_members':[1,2]},'outputs':[]}")));
        assertTrue(notStrings.getMessage().contains("\"ensemble_members\" must be an array of strings"),
                notStrings.getMessage());
        StringBuilder many = new StringBuilder("{'model_name':'e','parameters':{'ensemble_missing':[");
        for (int i = 0; i < 1025; i++) {
            many.append(i == 0 ? "" : ",").append("'x'");
        }
        InvalidInput tooMany = assertThrows(InvalidInput.class, () -> codec.decodeResponse(body(many
                + "]},'outputs':[]}")));
        assertTrue(tooMany.getMessage().contains("more than 1024 entries"), tooMany.getMessage());
    }

    @Test
    void islandModeIsWrittenOnlyWhenTrue() {
        InferenceResponse r = new InferenceResponse("r1", "m", null, List.of(), "n1", "eu", 1, true);
        assertEquals("{\"model_name\":\"m\",\"id\":\"r1\",\"parameters\":{\"node\":\"n1\",\"region\":\"eu\","
                + "\"batch_rows\":1,\"served_in_island_mode\":true},\"outputs\":[]}", text(codec.encodeResponse(r)));
        InferenceResponse back = codec.decodeResponse(codec.encodeResponse(r));
        assertNull(back.version());
        assertTrue(back.outputs().isEmpty());
    }

    @Test
    void nonFiniteFloatsDecodeFromStringsAndLiterals() {
        InferenceRequest r = decode("{'inputs':[{'name':'x','datatype':'FP32','shape':[8],"
                + "'data':['NaN','Infinity','-Infinity',NaN,Infinity,-Infinity,'inf',-0.0]}]}");
        float[] x = r.inputs().get(0).tensor().floats();
        assertTrue(Float.isNaN(x[0]));
        assertEquals(Float.POSITIVE_INFINITY, x[1]);
        assertEquals(Float.NEGATIVE_INFINITY, x[2]);
        assertTrue(Float.isNaN(x[3]));
        assertEquals(Float.POSITIVE_INFINITY, x[4]);
        assertEquals(Float.NEGATIVE_INFINITY, x[5]);
        assertEquals(Float.POSITIVE_INFINITY, x[6]);
        assertEquals(Float.floatToIntBits(-0.0f), Float.floatToIntBits(x[7]));

        double[] d = decode("{'inputs':[{'name':'x','datatype':'FP64','shape':[3],"
                + "'data':['NaN','-Infinity',1e300]}]}").inputs().get(0).tensor().doubles();
        assertTrue(Double.isNaN(d[0]));
        assertEquals(Double.NEGATIVE_INFINITY, d[1]);
        assertEquals(1e300, d[2]);
    }

    @Test
    void rankZeroScalarsRoundTrip() {
        InferenceRequest r = decode("{'inputs':[{'name':'s','datatype':'INT64','shape':[],'data':[42]},"
                + "{'name':'bare','datatype':'FP64','shape':[],'data':2.5}]}");
        assertTrue(Tensor.ofLongs(new long[0], 42).contentEquals(r.inputs().get(0).tensor()));
        assertTrue(Tensor.ofDoubles(new long[0], 2.5).contentEquals(r.inputs().get(1).tensor()));
        InferenceRequest back = codec.decodeRequest(codec.encodeRequest(r), "m", null, DEFAULT_TIMEOUT, MAX_TIMEOUT);
        assertSameTensors(r.inputs(), back.inputs());
    }

    @Test
    void emptyTensorsRoundTrip() {
        InferenceRequest r = decode("{'inputs':[{'name':'e','datatype':'FP32','shape':[0,4],'data':[]}]}");
        Tensor e = r.inputs().get(0).tensor();
        assertArrayEquals(new long[] {0, 4}, e.shape());
        assertEquals(0, e.size());
        InferenceResponse back = codec.decodeResponse(codec.encodeResponse(
                new InferenceResponse("i", "m", null, r.inputs(), null, null, 0, false)));
        assertSameTensors(r.inputs(), back.outputs());
    }

    @Test
    void nestedDataIsFlattenedInRowMajorOrder() {
        InferenceRequest r = decode("{'inputs':["
                + "{'name':'a','datatype':'INT32','shape':[2,3],'data':[[1,2,3],[4,5,6]]},"
                + "{'name':'b','datatype':'BOOL','shape':[2,1,2],'data':[[[true,false]],[[0,1]]]},"
                + "{'name':'c','datatype':'FP32','shape':[0,3],'data':[[]]}]}");
        assertArrayEquals(new int[] {1, 2, 3, 4, 5, 6}, r.inputs().get(0).tensor().ints());
        assertArrayEquals(new boolean[] {true, false, false, true}, r.inputs().get(1).tensor().booleans());
        assertEquals(0, r.inputs().get(2).tensor().size());
    }

    @Test
    void fieldsMayComeInAnyOrder() {
        InferenceRequest r = decode("{'parameters':{'timeout_ms':700},'outputs':[{'name':'y'}],'inputs':["
                + "{'data':[[1,2],[3,4]],'shape':[2,2],'datatype':'INT64','name':'late'},"
                + "{'name':'x','data':[255,0],'datatype':'UINT8','shape':[2]},"
                + "{'shape':[2],'data':[0.5,'NaN'],'name':'f','datatype':'FP64'}],'id':'last'}");
        assertEquals("last", r.id());
        assertEquals(700, r.timeoutMillis());
        assertEquals(List.of("y"), r.outputs());
        assertSameTensors(List.of(
                new NamedTensor("late", Tensor.ofLongs(new long[] {2, 2}, 1, 2, 3, 4)),
                new NamedTensor("x", Tensor.ofUint8(new long[] {2}, (byte) 255, (byte) 0)),
                new NamedTensor("f", Tensor.ofDoubles(new long[] {2}, 0.5, Double.NaN))), r.inputs());
    }

    @Test
    void dataBeforeItsTypeIsReadAfterAByteOrderMark() {
        byte[] json = body("{'inputs':[{'data':[1,2],'name':'x','shape':[2],'datatype':'INT8'}]}");
        byte[] withBom = new byte[json.length + 3];
        withBom[0] = (byte) 0xEF;
        withBom[1] = (byte) 0xBB;
        withBom[2] = (byte) 0xBF;
        System.arraycopy(json, 0, withBom, 3, json.length);
        InferenceRequest r = codec.decodeRequest(withBom, "m", null, DEFAULT_TIMEOUT, MAX_TIMEOUT);
        assertArrayEquals(new byte[] {1, 2}, r.inputs().get(0).tensor().bytes());
    }

    @Test
    void residencyAcceptsAnArrayOrACommaSeparatedString() {
        assertEquals(Set.of("eu-west", "eu-central"), decode(withParameters("{'residency':['eu-west','eu-central']}")).residency());
        assertEquals(Set.of("eu-west", "eu-central"), decode(withParameters("{'residency':' eu-west, ,eu-central '}")).residency());
        assertEquals(Set.of(), decode(withParameters("{}")).residency());
    }

    @Test
    void timeoutDefaultsAndIsCappedAtTheMaximum() {
        assertEquals(DEFAULT_TIMEOUT, decode(withParameters("{}")).timeoutMillis());
        assertEquals(250, decode(withParameters("{'timeout_ms':250}")).timeoutMillis());
        assertEquals(250, decode(withParameters("{'timeout_ms':'250'}")).timeoutMillis());
        assertEquals(MAX_TIMEOUT, decode(withParameters("{'timeout_ms':3600000}")).timeoutMillis());
        assertEquals(MAX_TIMEOUT, decode(withParameters("{'timeout_ms':99999999999999999999999}")).timeoutMillis());
    }

    @Test
    void requestedOutputsAreReadInOrder() {
        InferenceRequest r = decode("{'inputs':[],'outputs':[{'name':'b','parameters':{'binary_data':false}},{'name':'a'}]}");
        assertEquals(List.of("b", "a"), r.outputs());
        assertEquals(List.of(), decode("{'inputs':[]}").outputs());
    }

    @Test
    void unknownFieldsAreSkipped() {
        InferenceRequest r = decode("{'extra':{'deep':[1,{'x':[]}]},'inputs':[{'name':'x','note':[[1],{'a':2}],"
                + "'datatype':'INT16','parameters':{'content_type':'x'},'shape':[2],'data':[-32768,32767]}],"
                + "'parameters':{'priority':3,'nested':{'a':[1]}}}");
        assertArrayEquals(new short[] {-32768, 32767}, r.inputs().get(0).tensor().shorts());
    }

    @Test
    void boolAcceptsZeroAndOne() {
        InferenceRequest r = decode("{'inputs':[{'name':'b','datatype':'BOOL','shape':[4],'data':[true,false,1,0]}]}");
        assertArrayEquals(new boolean[] {true, false, true, false}, r.inputs().get(0).tensor().booleans());
    }

    @Test
    void integerTypesAcceptIntegralNumbersWrittenWithAFractionOrExponent() {
        InferenceRequest r = decode("{'inputs':[{'name':'i','datatype':'INT32','shape':[3],'data':[3.0,1e2,-0.0]},"
                + "{'name':'l','datatype':'INT64','shape':[1],'data':[9.223372036854775807e18]}]}");
        assertArrayEquals(new int[] {3, 100, 0}, r.inputs().get(0).tensor().ints());
        assertArrayEquals(new long[] {Long.MAX_VALUE}, r.inputs().get(1).tensor().longs());
    }

    @Test
    void aMillionElementFp32RequestDecodes() {
        int n = 1_000_000;
        StringBuilder sb = new StringBuilder(n * 8).append("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1000,1000],\"data\":[");
        for (int i = 0; i < n; i++) {
            sb.append(i == 0 ? "" : ",").append(i % 1000).append(".25");
        }
        sb.append("]}]}");
        InferenceRequest r = codec.decodeRequest(sb.toString().getBytes(StandardCharsets.UTF_8), "m", null,
                DEFAULT_TIMEOUT, MAX_TIMEOUT);
        float[] x = r.inputs().get(0).tensor().floats();
        assertEquals(n, x.length);
        assertEquals(999.25f, x[n - 1]);
    }

    @Test
    void errorBodyCarriesTheMessage() {
        assertEquals("{\"error\":\"input 'x': bad \\\"value\\\"\"}", text(codec.encodeError("input 'x': bad \"value\"")));
    }

    // ---------------------------------------------------------------- bad input

    static Stream<Arguments> malformedRequests() {
        String x = "{'inputs':[{'name':'x',";
        return Stream.of(
                bad("", "request body is empty"),
                bad("   ", "request body is empty"),
                bad("[1]", "request body must be a JSON object"),
                bad("{'inputs': [}", "malformed JSON at line 1 column 13: Unexpected close marker '}': "
                        + "expected ']' (for Array starting at line 1 column 12)"),
                bad("{'extra':\n [1 2],'inputs':[]}", "malformed JSON at line 2 column 5: Unexpected character ('2' (code 50)): "
                        + "was expecting comma to separate Array entries"),
                bad("{'inputs':[]} {}", "malformed JSON at line 1 column 15: unexpected content after the end of the object"),
                bad("{}", "\"inputs\" is missing"),
                bad("{'inputs':{}}", "\"inputs\" must be an array"),
                bad("{'inputs':[],'inputs':[]}", "duplicate field \"inputs\""),
                bad("{'inputs':[1]}", "inputs[0] must be an object"),
                bad("{'inputs':[{'datatype':'FP32','shape':[1],'data':[1]}]}", "inputs[0]: missing \"name\""),
                bad("{'inputs':[{'name':5}]}", "inputs[0]: \"name\" must be a string"),
                bad("{'inputs':[{'name':''}]}", "inputs[0]: \"name\" is empty"),
                bad(x + "'shape':[1],'data':[1]}]}", "input 'x': missing \"datatype\""),
                bad(x + "'datatype':'FP8','shape':[1],'data':[1]}]}",
                        "input 'x': unsupported datatype 'FP8' (supported: FP32, FP64, INT8, UINT8, INT16, INT32, INT64, BOOL)"),
                bad(x + "'datatype':7,'shape':[1],'data':[1]}]}", "input 'x': \"datatype\" must be a string"),
                bad(x + "'datatype':'FP32','datatype':'FP32'}]}", "input 'x': duplicate field \"datatype\""),
                bad(x + "'datatype':'FP32','data':[1]}]}", "input 'x': missing \"shape\""),
                bad(x + "'datatype':'FP32','shape':[1]}]}", "input 'x': missing \"data\""),
                bad(x + "'datatype':'FP32','shape':[1],'parameters':{'binary_data_size':4}}]}",
                        "input 'x': binary tensor data (\"binary_data_size\") is not supported, send \"data\" as a JSON array"),
                bad(x + "'datatype':'FP32','shape':'2','data':[1,2]}]}", "input 'x': \"shape\" must be an array of integers"),
                bad(x + "'datatype':'FP32','shape':[2,2.5],'data':[1,2]}]}", "input 'x': shape dimension 1 is 2.5, not an integer"),
                bad(x + "'datatype':'FP32','shape':[-1,4],'data':[1,2,3,4]}]}", "input 'x': negative dimension in shape [-1, 4]"),
                bad(x + "'datatype':'FP32','shape':[100000,100000],'data':[1]}]}",
                        "input 'x': shape [100000, 100000] exceeds the limit of 1000000 elements"),
                bad(x + "'datatype':'FP32','shape':[99999999999999999999],'data':[1]}]}",
                        "input 'x': shape dimension 0 is 99999999999999999999, more than the limit of 1000000"),
                bad(x + "'datatype':'FP32','shape':[2,4],'data':[1,2,3,4,5,6,7]}]}",
                        "input 'x': data has 7 elements, shape [2, 4] needs 8"),
                bad(x + "'datatype':'FP32','shape':[2,4],'data':[1,2,3,4,5,6,7,8,9]}]}",
                        "input 'x': data has 9 elements, shape [2, 4] needs 8"),
                bad(x + "'datatype':'FP32','shape':[],'data':[]}]}", "input 'x': data has 0 elements, shape [] needs 1"),
                // More elements than the body could hold: counted, never allocated.
                bad(x + "'datatype':'FP64','shape':[900000],'data':[1,2]}]}",
                        "input 'x': data has 2 elements, shape [900000] needs 900000"),
                bad(x + "'datatype':'FP32','shape':[4],'data':[1,2,3,'abc']}]}", "input 'x': element 3 is \"abc\", not a number"),
                bad(x + "'datatype':'FP32','shape':[2],'data':[1,null]}]}", "input 'x': element 1 is null, not a number"),
                bad(x + "'datatype':'FP32','shape':[2],'data':[1,{'v':2}]}]}", "input 'x': element 1 is an object, not a number"),
                bad(x + "'datatype':'FP32','shape':[1],'data':[1e39]}]}", "input 'x': element 0 is 1e39, out of range for FP32"),
                bad(x + "'datatype':'FP64','shape':[1],'data':[1e309]}]}", "input 'x': element 0 is 1e309, out of range for FP64"),
                bad(x + "'datatype':'FP32','shape':[1],'data':null}]}", "input 'x': \"data\" must be an array, got null"),
                bad(x + "'datatype':'UINT8','shape':[3],'data':[0,255,300]}]}",
                        "input 'x': element 2 is 300, out of range for UINT8 (0..255)"),
                bad(x + "'datatype':'UINT8','shape':[1],'data':[-1]}]}", "input 'x': element 0 is -1, out of range for UINT8 (0..255)"),
                bad(x + "'datatype':'INT8','shape':[1],'data':[128]}]}", "input 'x': element 0 is 128, out of range for INT8 (-128..127)"),
                bad(x + "'datatype':'INT16','shape':[1],'data':[-32769]}]}",
                        "input 'x': element 0 is -32769, out of range for INT16 (-32768..32767)"),
                bad(x + "'datatype':'INT32','shape':[1],'data':[2147483648]}]}",
                        "input 'x': element 0 is 2147483648, out of range for INT32 (-2147483648..2147483647)"),
                bad(x + "'datatype':'INT64','shape':[1],'data':[9223372036854775808]}]}",
                        "input 'x': element 0 is 9223372036854775808, out of range for INT64 "
                                + "(-9223372036854775808..9223372036854775807)"),
                bad(x + "'datatype':'INT64','shape':[1],'data':[1e999999999]}]}",
                        "input 'x': element 0 is 1e999999999, out of range for INT64 "
                                + "(-9223372036854775808..9223372036854775807)"),
                bad(x + "'datatype':'INT32','shape':[1],'data':[9E99999999999]}]}",
                        "input 'x': element 0 is 9E99999999999, out of range for INT32 (-2147483648..2147483647)"),
                bad(x + "'datatype':'INT32','shape':[1],'data':[1E-99999999999]}]}",
                        "input 'x': element 0 is 1E-99999999999, not an integer"),
                bad(x + "'datatype':'INT32','shape':[2],'data':[1,1.5]}]}", "input 'x': element 1 is 1.5, not an integer"),
                bad(x + "'datatype':'INT32','shape':[1],'data':[NaN]}]}", "input 'x': element 0 is NaN, not an integer"),
                bad(x + "'datatype':'INT64','shape':[1],'data':['7']}]}", "input 'x': element 0 is \"7\", not an integer"),
                bad(x + "'datatype':'BOOL','shape':[1],'data':[2]}]}",
                        "input 'x': element 0 is 2, not a boolean (true, false, 0 or 1)"),
                bad(x + "'datatype':'BOOL','shape':[1],'data':['true']}]}",
                        "input 'x': element 0 is \"true\", not a boolean (true, false, 0 or 1)"),
                bad(x + "'datatype':'FP32','shape':[3],'data':[[1,2],[3]]}]}",
                        "input 'x': data is ragged: arrays at nesting level 2 have 2 and 1 elements"),
                bad(x + "'datatype':'FP32','shape':[2],'data':[1,[2]]}]}",
                        "input 'x': data is ragged: nesting level 1 mixes values and arrays"),
                bad(x + "'datatype':'FP32','shape':[1],'data':[1]},{'name':'x','datatype':'FP32','shape':[1],'data':[2]}]}",
                        "duplicate input 'x'"),
                // Errors in data read before the name is known still name the input.
                bad("{'inputs':[{'data':[1,'abc'],'datatype':'FP32','shape':[2],'name':'late'}]}",
                        "input 'late': element 1 is \"abc\", not a number"),
                bad("{'inputs':[{'shape':[2],'data':[1,2],'name':'late'}]}", "input 'late': missing \"datatype\""),
                bad("{'inputs':[],'parameters':[]}", "\"parameters\" must be an object"),
                bad("{'inputs':[],'parameters':{'timeout_ms':-5}}",
                        "parameter \"timeout_ms\" must be a positive integer (milliseconds), got -5"),
                bad("{'inputs':[],'parameters':{'timeout_ms':'soon'}}",
                        "parameter \"timeout_ms\" must be a positive integer (milliseconds), got \"soon\""),
                bad("{'inputs':[],'parameters':{'timeout_ms':1.5}}",
                        "parameter \"timeout_ms\" must be a positive integer (milliseconds), got 1.5"),
                bad("{'inputs':[],'parameters':{'residency':5}}",
                        "parameter \"residency\" must be an array of region names or a comma-separated string"),
                bad("{'inputs':[],'parameters':{'residency':['eu',1]}}",
                        "parameter \"residency\" must be an array of region names or a comma-separated string"),
                bad("{'inputs':[],'outputs':'y'}", "\"outputs\" must be an array of objects with a \"name\""),
                bad("{'inputs':[],'outputs':['y']}", "outputs[0] must be an object with a \"name\""),
                bad("{'inputs':[],'outputs':[{'name':'y'},{}]}", "outputs[1]: missing \"name\""),
                bad("{'inputs':[],'outputs':[{'name':'y'},{'name':'y'}]}", "duplicate requested output 'y'"),
                bad("{'inputs':[],'id':5}", "\"id\" must be a string"));
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("malformedRequests")
    void malformedRequestIsRefusedWithAPreciseMessage(String json, String message) {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        InvalidInput e = assertThrows(InvalidInput.class,
                () -> codec.decodeRequest(b, "m", null, DEFAULT_TIMEOUT, MAX_TIMEOUT));
        assertEquals(message, e.getMessage());
        assertEquals(ErrorKind.INVALID_INPUT, e.kind());
    }

    @Test
    void messagesQuoteOnlyAShortPieceOfTheOffendingElement() {
        String secret = "s".repeat(100);
        String json = "{'inputs':[{'name':'x','datatype':'FP32','shape':[3],'data':[123.456,'" + secret + "',789.5]}]}";
        InvalidInput e = assertThrows(InvalidInput.class, () -> decode(json));
        assertEquals("input 'x': element 1 is \"" + "s".repeat(40) + "...\", not a number", e.getMessage());
        assertFalse(e.getMessage().contains("123.456") || e.getMessage().contains("789.5"));
    }

    @Test
    void nullOrEmptyBodiesAndMissingModelAreRefused() {
        assertEquals("request body is empty", assertThrows(InvalidInput.class,
                () -> codec.decodeRequest(null, "m", null, DEFAULT_TIMEOUT, MAX_TIMEOUT)).getMessage());
        assertEquals("a model name is required", assertThrows(InvalidInput.class,
                () -> codec.decodeRequest(body("{'inputs':[]}"), null, null, DEFAULT_TIMEOUT, MAX_TIMEOUT)).getMessage());
        assertEquals("response body is empty", assertThrows(InvalidInput.class,
                () -> codec.decodeResponse(new byte[0])).getMessage());
    }

    @Test
    void utf16BodiesAreRefused() {
        byte[] utf16 = "{\"inputs\":[]}".getBytes(StandardCharsets.UTF_16BE);
        assertEquals("request body must be UTF-8 encoded JSON", assertThrows(InvalidInput.class,
                () -> codec.decodeRequest(utf16, "m", null, DEFAULT_TIMEOUT, MAX_TIMEOUT)).getMessage());
    }

    @Test
    void excessiveNestingIsRefusedAsMalformed() {
        String json = "{'inputs':[{'name':'x','datatype':'FP32','shape':[1],'data':"
                + "[".repeat(5000) + "]".repeat(5000) + "}]}";
        InvalidInput e = assertThrows(InvalidInput.class, () -> decode(json));
        assertEquals("JSON limit exceeded: Document nesting depth (1001) exceeds the maximum allowed (1000)", e.getMessage());
    }

    @Test
    void corruptedBodiesFailOnlyWithInvalidInput() {
        String[] seeds = {
                text(body("{'id':'a','parameters':{'timeout_ms':5,'residency':['eu']},'inputs':[{'name':'x','datatype':"
                        + "'FP32','shape':[2,2],'data':[[1.5,NaN],['Infinity',-2e3]]},{'data':[1,0,true],'name':'b',"
                        + "'shape':[3],'datatype':'BOOL'}],'outputs':[{'name':'y'}]}")),
                text(body("{'inputs':[{'name':'i','datatype':'INT64','shape':[],'data':9223372036854775807},"
                        + "{'shape':[1,2],'name':'u','datatype':'UINT8','data':[255,3.0]},{'name':'d','datatype':'FP64',"
                        + "'shape':[2],'data':[1e300,'-inf']}],'parameters':{'timeout_ms':'77','residency':'a,b'}}")),
                text(body("{'model_name':'m','id':'r','parameters':{'node':'n','batch_rows':2,'served_in_island_mode':true},"
                        + "'outputs':[{'data':[[-128],[127]],'name':'y','shape':[2,1],'datatype':'INT8'}]}"))};
        String alphabet = "{}[],:\"0123456789.eE-+ntfaNI\\ \n";
        java.util.Random random = new java.util.Random(7);
        for (int round = 0; round < 20_000; round++) {
            StringBuilder b = new StringBuilder(seeds[random.nextInt(seeds.length)]);
            for (int edits = 1 + random.nextInt(3); edits > 0 && b.length() > 0; edits--) {
                int at = random.nextInt(b.length());
                switch (random.nextInt(3)) {
                    case 0 -> b.setCharAt(at, alphabet.charAt(random.nextInt(alphabet.length())));
                    case 1 -> b.deleteCharAt(at);
                    default -> b.setLength(at);
                }
            }
            byte[] bytes = b.toString().getBytes(StandardCharsets.UTF_8);
            try {
                if (round % 2 == 0) {
                    codec.decodeRequest(bytes, "m", null, DEFAULT_TIMEOUT, MAX_TIMEOUT);
                } else {
                    codec.decodeResponse(bytes);
                }
            } catch (InvalidInput expected) {
                assertTrue(expected.getMessage().length() < 300, expected.getMessage());
            }
        }
    }

    @Test
    void malformedResponsesNameTheOutput() {
        assertEquals("\"model_name\" is missing", assertThrows(InvalidInput.class,
                () -> codec.decodeResponse(body("{'outputs':[]}"))).getMessage());
        assertEquals("\"outputs\" is missing", assertThrows(InvalidInput.class,
                () -> codec.decodeResponse(body("{'model_name':'m'}"))).getMessage());
        assertEquals("output 'y': element 0 is 256, out of range for UINT8 (0..255)", assertThrows(InvalidInput.class,
                () -> codec.decodeResponse(body("{'model_name':'m','outputs':[{'name':'y','datatype':'UINT8',"
                        + "'shape':[1],'data':[256]}]}"))).getMessage());
        assertEquals("outputs[0]: missing \"name\"", assertThrows(InvalidInput.class,
                () -> codec.decodeResponse(body("{'model_name':'m','outputs':[{'datatype':'FP32'}]}"))).getMessage());
        assertEquals("duplicate output 'y'", assertThrows(InvalidInput.class,
                () -> codec.decodeResponse(body("{'model_name':'m','outputs':[{'name':'y','datatype':'BOOL','shape':[0],"
                        + "'data':[]},{'name':'y','datatype':'BOOL','shape':[0],'data':[]}]}"))).getMessage());
    }

    @Test
    void foreignResponsesWithoutOurParametersDecode() {
        InferenceResponse r = codec.decodeResponse(body("{'model_name':'m','model_version':'1','outputs':"
                + "[{'name':'y','shape':[2],'datatype':'FP32','parameters':{'binary_data_size':0},'data':[1,2]}]}"));
        assertNull(r.id());
        assertNull(r.node());
        assertEquals(0, r.batchRows());
        assertFalse(r.islandMode());
        assertArrayEquals(new float[] {1, 2}, r.output("y").floats());
    }

    // ---------------------------------------------------------------- helpers

    private static Arguments bad(String json, String message) {
        return Arguments.of(json.replace('\'', '"'), message);
    }

    private InferenceRequest decode(String json) {
        return codec.decodeRequest(body(json), "m", null, DEFAULT_TIMEOUT, MAX_TIMEOUT);
    }

    private static String withParameters(String parameters) {
        return "{'inputs':[],'parameters':" + parameters + "}";
    }

    private static byte[] body(String json) {
        return json.replace('\'', '"').getBytes(StandardCharsets.UTF_8);
    }

    private static String text(byte[] body) {
        return new String(body, StandardCharsets.UTF_8);
    }

    private static List<NamedTensor> everyDatatype() {
        return List.of(
                new NamedTensor("fp32", Tensor.ofFloats(new long[] {2, 4}, 0f, -0f, 1.1f, Float.MIN_VALUE,
                        Float.MAX_VALUE, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY)),
                new NamedTensor("fp64", Tensor.ofDoubles(new long[] {6}, 0.1, -0.0, Double.MIN_VALUE,
                        Double.MAX_VALUE, Double.NaN, Double.NEGATIVE_INFINITY)),
                new NamedTensor("int8", Tensor.of(DType.INT8, new long[] {3}, new byte[] {-128, 0, 127})),
                new NamedTensor("uint8", Tensor.ofUint8(new long[] {3}, (byte) 0, (byte) 128, (byte) 255)),
                new NamedTensor("int16", Tensor.of(DType.INT16, new long[] {3}, new short[] {Short.MIN_VALUE, 0, Short.MAX_VALUE})),
                new NamedTensor("int32", Tensor.ofInts(new long[] {3}, Integer.MIN_VALUE, 0, Integer.MAX_VALUE)),
                new NamedTensor("int64", Tensor.ofLongs(new long[] {3}, Long.MIN_VALUE, 0, Long.MAX_VALUE)),
                new NamedTensor("bool", Tensor.ofBooleans(new long[] {1, 2}, true, false)));
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
