package io.meshinfer.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.meshinfer.api.ErrorKind;
import io.meshinfer.api.InferenceException.InvalidInput;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.StringJoiner;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every {@code meshinfer.limits} limit refuses a body with a precise message, before it
 * allocates what the limit bounds; and the defaults in reference.conf are what the README
 * says.
 */
class InputLimitsTest {
    private static final long DEFAULT_TIMEOUT = 5_000;
    private static final long MAX_TIMEOUT = 60_000;
    /** Small limits, so that each case is small too. */
    private static final InputLimits SMALL = new InputLimits(3, 1000, 1000, 1500, 4000, 3, 2, 8, 10, 6, 2);
    private static final OipBinary SMALL_CODEC = new OipBinary(new OipJson(SMALL));
    private static final InputLimits DEFAULTS = InputLimits.fromConfig(ConfigFactory.defaultReference());
    private static final OipBinary DEFAULT_CODEC = new OipBinary(new OipJson(DEFAULTS));

    @Test
    void defaultsAreTheDocumentedOnes() {
        assertEquals(new InputLimits(16, 16_777_216, 16_777_216, 16_777_216, 64L << 20, 256, 256, 256, 256, 256, 32),
                DEFAULTS);
    }

    @Test
    void nonsenseLimitsAreRefusedNamingTheKey() {
        var bad = ConfigFactory.parseMap(Map.of("meshinfer.limits.max-rank", 65))
                .withFallback(ConfigFactory.defaultReference());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> InputLimits.fromConfig(bad));
        assertEquals("meshinfer.limits.max-rank must be between 1 and 64, got 65", e.getMessage());
        var longNames = ConfigFactory.parseMap(Map.of("meshinfer.limits.max-name-length", 100_000))
                .withFallback(ConfigFactory.defaultReference());
        assertEquals("meshinfer.limits.max-name-length must be between 1 and 65536, got 100000",
                assertThrows(IllegalArgumentException.class, () -> InputLimits.fromConfig(longNames)).getMessage());
    }

    static Stream<Arguments> overTheLimit() {
        String x = "{'inputs':[{'name':'x','datatype':'FP32',";
        return Stream.of(
                bad(x + "'shape':[1,1,1,1],'data':[1]}]}", "input 'x': shape has 4 dimensions, more than the limit of 3"),
                bad(x + "'shape':[" + "1,".repeat(99_999) + "1],'data':[1]}]}",
                        "input 'x': shape has 100000 dimensions, more than the limit of 3"),
                bad(x + "'shape':[0,1000000000000],'data':[]}]}",
                        "input 'x': shape dimension 1 is 1000000000000, more than the limit of 1000"),
                bad(x + "'shape':[100,100],'data':[1]}]}", "input 'x': shape [100, 100] exceeds the limit of 1000 elements"),
                bad("{'inputs':[" + tensor("a", "FP32", 800) + "," + tensor("b", "FP32", 800) + "]}",
                        "input 'b': the inputs would hold 1600 elements, more than the limit of 1500 per request"),
                bad("{'inputs':[" + tensor("a", "FP64", 600) + "]}",
                        "input 'a': the inputs would hold 4800 bytes, more than the limit of 4000 per request"),
                bad("{'inputs':[" + tensor("a", "INT8", 1) + "," + tensor("b", "INT8", 1) + "," + tensor("c", "INT8", 1)
                        + "," + tensor("d", "INT8", 1) + "]}", "\"inputs\" holds more than 3 tensors, the limit"),
                bad("{'inputs':[],'outputs':[{'name':'a'},{'name':'b'},{'name':'c'}]}",
                        "\"outputs\" asks for more than 2 outputs, the limit"),
                bad("{'inputs':[{'name':'ninechars','datatype':'FP32','shape':[1],'data':[1]}]}",
                        "inputs[0]: \"name\" is 9 characters long, more than the limit of 8"),
                bad("{'inputs':[],'outputs':[{'name':'ninechars'}]}",
                        "outputs[0]: \"name\" is 9 characters long, more than the limit of 8"),
                bad("{'id':'elevenchars','inputs':[]}", "\"id\" is 11 characters long, more than the limit of 10"),
                bad("{'inputs':[],'parameters':{'routing_key':'sevenkk'}}",
                        "parameter \"routing_key\" is 7 characters long, more than the limit of 6"),
                bad("{'inputs':[],'parameters':{'residency':['eu','us-east']}}",
                        "parameter \"residency\": a region is 7 characters long, more than the limit of 6"),
                bad("{'inputs':[],'parameters':{'residency':'eu, us-east'}}",
                        "parameter \"residency\": a region is 7 characters long, more than the limit of 6"),
                bad("{'inputs':[],'parameters':{'residency':['a','b','c']}}",
                        "parameter \"residency\" names more than 2 regions, the limit"),
                bad("{'inputs':[],'parameters':{'residency':'a,b,c'}}",
                        "parameter \"residency\" names more than 2 regions, the limit"),
                bad("{'inputs':[],'parameters':{'residency':'" + "a,".repeat(10) + "'}}",
                        "parameter \"residency\" is 20 characters long, more than the limit of 14"),
                bad("{'id':'" + "i".repeat(70_000) + "','inputs':[]}",
                        "\"id\" is more than 65536 characters long, more than the limit of 10"));
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("overTheLimit")
    void aBodyOverALimitIsRefusedWithAPreciseMessage(String json, String message) {
        InvalidInput e = assertThrows(InvalidInput.class, () -> SMALL_CODEC.decodeRequest(
                json.getBytes(StandardCharsets.UTF_8), null, "m", null, DEFAULT_TIMEOUT, MAX_TIMEOUT));
        assertEquals(message, e.getMessage());
        assertEquals(ErrorKind.INVALID_INPUT, e.kind());
    }

    @Test
    void noHugeStringIsDecodedInFullWhateverTheLimits() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        byte[] json = body("{'id':'" + "i".repeat(8_000_000) + "','inputs':[]}");
        long before = threads.getCurrentThreadAllocatedBytes();
        InvalidInput e = assertThrows(InvalidInput.class, () -> SMALL_CODEC.decodeRequest(json, null, "m", null,
                DEFAULT_TIMEOUT, MAX_TIMEOUT));
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertEquals("\"id\" is more than 65536 characters long, more than the limit of 10", e.getMessage());
        assertTrue(allocated < 4 << 20, "an 8M-character id cost " + allocated + " bytes");
    }

    /**
     * Jackson notices a string past its limit either while buffering it or only once it is
     * read, depending on the buffers it recycled from earlier parses on the same thread; the
     * caller gets one message either way.
     */
    @Test
    void aStringPastTheParserLimitGetsOneMessageWhateverCameBefore() {
        byte[] huge = body("{'id':'" + "i".repeat(70_000) + "','inputs':[]}");
        byte[] large = body("{'id':'" + "i".repeat(60_000) + "','inputs':[]}");
        String expected = "\"id\" is more than 65536 characters long, more than the limit of 10";
        for (int i = 0; i < 3; i++) {
            InvalidInput cold = assertThrows(InvalidInput.class, () -> SMALL_CODEC.decodeRequest(huge, null, "m", null,
                    DEFAULT_TIMEOUT, MAX_TIMEOUT));
            assertEquals(expected, cold.getMessage());
            assertThrows(InvalidInput.class, () -> SMALL_CODEC.decodeRequest(large, null, "m", null, DEFAULT_TIMEOUT,
                    MAX_TIMEOUT)); // leaves a 60,000-character buffer to recycle
            InvalidInput warm = assertThrows(InvalidInput.class, () -> SMALL_CODEC.decodeRequest(huge, null, "m", null,
                    DEFAULT_TIMEOUT, MAX_TIMEOUT));
            assertEquals(expected, warm.getMessage());
        }
    }

    @Test
    void exactlyAtEveryLimitIsAccepted() {
        String json = "{'id':'tencharsss','parameters':{'routing_key':'sixsix','residency':['eu','us']},'inputs':["
                + tensor("eightchr", "FP32", 500) + "," + tensor("b", "INT8", 500) + "," + tensor("c", "BOOL", 500)
                + "],'outputs':[{'name':'eightchr'},{'name':'y'}]}";
        var r = SMALL_CODEC.decodeRequest(body(json), null, "m", null, DEFAULT_TIMEOUT, MAX_TIMEOUT).request();
        assertEquals(3, r.inputs().size());
        assertEquals("tencharsss", r.id());
    }

    @Test
    void aTrillionElementShapeAndAGigabyteBinaryHeaderAreRefusedWithoutAllocatingThem() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = threads.getCurrentThreadAllocatedBytes();
        InvalidInput trillion = assertThrows(InvalidInput.class, () -> DEFAULT_CODEC.decodeRequest(
                body("{'inputs':[{'name':'x','datatype':'FP32','shape':[1000000,1000000],'data':[1]}]}"), null, "m",
                null, DEFAULT_TIMEOUT, MAX_TIMEOUT));
        assertEquals("input 'x': shape [1000000, 1000000] exceeds the limit of 16777216 elements",
                trillion.getMessage());
        byte[] header = body("{'inputs':[{'name':'x','datatype':'UINT8','shape':[16,16777216],"
                + "'parameters':{'binary_data_size':268435456}}]}");
        byte[] withTail = java.util.Arrays.copyOf(header, header.length + 16);
        InvalidInput gigabyte = assertThrows(InvalidInput.class, () -> DEFAULT_CODEC.decodeRequest(withTail,
                Integer.toString(header.length), "m", null, DEFAULT_TIMEOUT, MAX_TIMEOUT));
        assertEquals("input 'x': shape [16, 16777216] exceeds the limit of 16777216 elements", gigabyte.getMessage());
        InvalidInput claimsMore = assertThrows(InvalidInput.class, () -> DEFAULT_CODEC.decodeRequest(
                binaryClaiming(16_000_000), headerLengthOf(16_000_000), "m", null,
                DEFAULT_TIMEOUT, MAX_TIMEOUT));
        assertEquals("input 'x': binary_data_size is 64000000, but only 16 bytes are left in the body (16 bytes"
                + " follow the " + headerLengthOf(16_000_000) + "-byte JSON header)", claimsMore.getMessage());
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertTrue(allocated < 4 << 20, "refusing them allocated " + allocated + " bytes");
    }

    private static byte[] binaryClaiming(int floats) {
        byte[] header = binaryHeader(floats);
        return java.util.Arrays.copyOf(header, header.length + 16);
    }

    private static String headerLengthOf(int floats) {
        return Integer.toString(binaryHeader(floats).length);
    }

    private static byte[] binaryHeader(int floats) {
        return body("{'inputs':[{'name':'x','datatype':'FP32','shape':[" + floats + "],"
                + "'parameters':{'binary_data_size':" + 4L * floats + "}}]}");
    }

    private static String tensor(String name, String datatype, int n) {
        StringJoiner data = new StringJoiner(",", "[", "]");
        for (int i = 0; i < n; i++) {
            data.add(datatype.equals("BOOL") ? "true" : Integer.toString(i % 100));
        }
        return "{'name':'" + name + "','datatype':'" + datatype + "','shape':[" + n + "],'data':" + data + "}";
    }

    private static Arguments bad(String json, String message) {
        return Arguments.of(json.replace('\'', '"'), message);
    }

    private static byte[] body(String json) {
        return json.replace('\'', '"').getBytes(StandardCharsets.UTF_8);
    }
}
