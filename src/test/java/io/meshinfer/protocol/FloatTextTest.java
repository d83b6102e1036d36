package io.meshinfer.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.core.io.schubfach.FloatToDecimal;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.StringJoiner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * {@link FloatText} against Jackson's own Schubfach ({@code FloatToDecimal}), the text our
 * JSON bodies carried before: every float must come out byte for byte the same.
 */
class FloatTextTest {
    private final byte[] buf = new byte[FloatText.ROOM + 8];

    private String text(float v) {
        Arrays.fill(buf, (byte) '#');
        int end = FloatText.write(v, buf, 3);
        // digits may be written past the text before its trailing zeroes are dropped: within ROOM, not beyond
        for (int i = 0; i < buf.length; i++) {
            if ((i < 3 || i >= 3 + FloatText.ROOM) && buf[i] != '#') {
                fail("wrote outside its room for " + v + " at " + i);
            }
        }
        return new String(buf, 3, end - 3, StandardCharsets.US_ASCII);
    }

    private void sameAsJackson(int bits) {
        float v = Float.intBitsToFloat(bits);
        if (!Float.isFinite(v)) {
            return;
        }
        String expected = FloatToDecimal.toString(v);
        String got = text(v);
        if (!expected.equals(got)) {
            assertEquals(expected, got, "bits 0x" + Integer.toHexString(bits));
        }
    }

    @Test
    void namedValuesAreWrittenAsJacksonWritesThem() {
        float[] values = {0f, -0f, 1f, -1f, 0.1f, 0.3f, 1.5f, 100f, 1e7f, 9_999_999f, 1.0e-3f, 9.99e-4f, 123.456f,
            Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, Float.MAX_VALUE, -Float.MAX_VALUE, 1.17549421E-38f,
            3.4e38f, 16_777_216f, 16_777_217f, 0.8025331f, -0.90154606f, -0.0070540155f, 2.0809207f, 1e-45f, 7e-45f,
            8.4e-45f, 1e10f, 1.0E-5f, 33554432f, 2f / 3f};
        for (float v : values) {
            sameAsJackson(Float.floatToRawIntBits(v));
            assertEquals(v, Float.parseFloat(text(v)), "reads back: " + v);
        }
        assertEquals("1.0E7", text(1e7f));
        assertEquals("9999999.0", text(9_999_999f));
        assertEquals("0.001", text(0.001f));
        assertEquals("9.99E-4", text(9.99e-4f));
        assertEquals("-0.0", text(-0f));
        assertEquals("1.4E-45", text(Float.MIN_VALUE));
        assertEquals("3.4028235E38", text(Float.MAX_VALUE));
    }

    /**
     * The subnormals (their own paths), the smallest normals, and the binades around 1,
     * 10^7 and the largest, each at a stride that walks every low-bit pattern.
     */
    @Test
    void binadesAreWrittenAsJacksonWritesThem() {
        int[] exponents = {0, 1, 126, 127, 149, 150, 254};
        for (int bq : exponents) {
            for (int t = bq; t < 1 << 23; t += bq == 0 ? 3 : 29) {
                sameAsJackson(bq << 23 | t);
                sameAsJackson(1 << 31 | bq << 23 | t);
            }
        }
    }

    @Test
    void randomFloatsAreWrittenAsJacksonWritesThem() {
        Random rnd = new Random(41);
        for (int i = 0; i < 1_000_000; i++) {
            sameAsJackson(rnd.nextInt());
        }
        for (int i = 0; i < 200_000; i++) {
            sameAsJackson(Float.floatToRawIntBits((float) rnd.nextGaussian())); // what models put out
        }
    }

    /** All 2^32 bit patterns: about ten minutes of one core here, so only on request. */
    @Test
    @EnabledIfSystemProperty(named = "meshinfer.test.exhaustive", matches = "true")
    void everyFloatIsWrittenAsJacksonWritesIt() {
        for (long bits = 0; bits <= 0xFFFF_FFFFL; bits++) {
            sameAsJackson((int) bits);
        }
    }

    @Test
    void nonFiniteValuesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> FloatText.write(Float.NaN, buf, 0));
        assertThrows(IllegalArgumentException.class, () -> FloatText.write(Float.POSITIVE_INFINITY, buf, 0));
        assertThrows(IllegalArgumentException.class, () -> FloatText.write(Float.NEGATIVE_INFINITY, buf, 0));
    }

    /**
     * The codec writes large FP32 arrays with FloatText, in chunks: the data array's text is
     * Jackson's, element for element, across the chunks' edges, with NaN and infinities as
     * strings, and the body is JSON that reads back bit for bit.
     */
    @Test
    void largeFp32ArraysInBodiesAreJacksonsTextAcrossChunks() throws Exception {
        Random rnd = new Random(42);
        float[] special = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -Float.MAX_VALUE,
            Float.MIN_VALUE, -0f};
        for (int length : new int[] {0, 1, 2, 511, 512, 513, 12_288, 40_000}) {
            float[] data = new float[length];
            for (int i = 0; i < length; i++) {
                data[i] = rnd.nextInt(50) == 0 ? special[rnd.nextInt(special.length)]
                        : rnd.nextBoolean() ? (float) rnd.nextGaussian() : Float.intBitsToFloat(rnd.nextInt());
            }
            NamedTensor tensor = new NamedTensor("y", Tensor.ofFloats(new long[] {1, length}, data));
            OipJson codec = new OipJson(1_000_000);
            byte[] response = codec.encodeResponse(new InferenceResponse("r", "m", "1", List.of(tensor, new NamedTensor("z", tensor.tensor())),
                    "n", "eu", 1, false));
            byte[] request = codec.encodeRequest(InferenceRequest.builder("m").id("q").input("x", tensor.tensor())
                    .build());

            String expected = expectedData(data);
            for (byte[] body : List.of(response, request)) {
                String text = new String(body, StandardCharsets.UTF_8);
                List<String> arrays = dataArrays(text);
                for (String array : arrays) {
                    assertEquals(expected, array, "length " + length);
                }
                JsonNode tree = new ObjectMapper().readTree(body); // strict JSON
                assertEquals(length, tree.path(body == response ? "outputs" : "inputs").path(0).path("data").size());
            }
            assertEquals(2, dataArrays(new String(response, StandardCharsets.UTF_8)).size());
            InferenceResponse back = codec.decodeResponse(response);
            for (NamedTensor t : back.outputs()) {
                assertArrayEquals(bits(data), bits(t.tensor().floats()), "length " + length);
            }
        }
    }

    private static String expectedData(float[] data) {
        StringJoiner j = new StringJoiner(",", "[", "]");
        for (float v : data) {
            j.add(Float.isFinite(v) ? FloatToDecimal.toString(v) : "\"" + FloatToDecimal.toString(v) + "\"");
        }
        return j.toString();
    }

    private static List<String> dataArrays(String body) {
        List<String> arrays = new ArrayList<>();
        int at = 0;
        while ((at = body.indexOf("\"data\":[", at)) >= 0) {
            int start = at + "\"data\":".length();
            int end = body.indexOf(']', start);
            arrays.add(body.substring(start, end + 1));
            at = end;
        }
        return arrays;
    }

    private static int[] bits(float[] values) {
        int[] out = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = Float.floatToIntBits(values[i]); // one NaN
        }
        return out;
    }
}
