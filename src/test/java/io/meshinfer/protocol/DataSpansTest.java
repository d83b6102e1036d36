package io.meshinfer.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.io.NumberInput;
import com.typesafe.config.ConfigFactory;
import io.meshinfer.api.InferenceException.InvalidInput;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testkit.HostileRequests;
import java.io.ByteArrayOutputStream;
import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.StringJoiner;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * Reading large data arrays from their spans ({@link DataSpans}, {@link NumberArrays}) must
 * not change what any body means: every case here is decoded by a codec that reads every
 * data array from its span and by one that reads none that way, and the two must agree on
 * the request, bit for bit, or on the refusal, word for word. Separately, the direct reader
 * must actually take the bodies real clients send, or the speed-up would be a fallback.
 */
class DataSpansTest {
    private static final long DEFAULT_TIMEOUT = 5_000;
    private static final long MAX_TIMEOUT = 60_000;
    private static final InputLimits DEFAULTS = InputLimits.fromConfig(ConfigFactory.defaultReference());
    private static final InputLimits SMALL = new InputLimits(3, 64, 256, 512, 4096, 4, 4, 16, 16, 16, 4);
    private static final OipBinary SPANS = new OipBinary(new OipJson(DEFAULTS, 1));
    private static final OipBinary JACKSON = new OipBinary(new OipJson(DEFAULTS, Integer.MAX_VALUE));
    private static final OipBinary SMALL_SPANS = new OipBinary(new OipJson(SMALL, 1));
    private static final OipBinary SMALL_JACKSON = new OipBinary(new OipJson(SMALL, Integer.MAX_VALUE));
    /** Reads spans and never falls back: what Jackson accepts, this must accept alike. */
    private static final OipBinary SPANS_ONLY = new OipBinary(new OipJson(DEFAULTS, 1, false));

    @Test
    void numbersReadAsJacksonReadsThemInEveryNumericType() {
        Random random = new Random(11);
        List<String> texts = numberTexts(random);
        for (DType type : DType.values()) {
            for (String text : texts) {
                sameOutcome(body(type, List.of(text)), null);
            }
            for (int round = 0; round < 200; round++) {
                List<String> some = new ArrayList<>();
                for (int i = 1 + random.nextInt(40); i > 0; i--) {
                    some.add(texts.get(random.nextInt(texts.size())));
                }
                sameOutcome(body(type, some), null);
            }
        }
    }

    @Test
    void floatsAsClientsWriteThemAreReadDirectlyAndExactly() {
        Random random = new Random(12);
        for (int round = 0; round < 300; round++) {
            int n = 1 + random.nextInt(64);
            float[] values = new float[n];
            StringJoiner shortest = new StringJoiner(",", "[", "]");
            StringJoiner widened = new StringJoiner(", ", "[", "]");
            StringJoiner fixed = new StringJoiner(",", "[", "]");
            List<String> fixedTexts = new ArrayList<>();
            List<String> shortestTexts = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                float f = switch (random.nextInt(4)) {
                    case 0 -> random.nextFloat();
                    case 1 -> (float) random.nextGaussian() * 255;
                    case 2 -> Float.intBitsToFloat(random.nextInt() & 0x7f7f_ffff) * (random.nextBoolean() ? 1 : -1);
                    default -> random.nextInt(256);
                };
                values[i] = f;
                shortestTexts.add(Float.toString(f));
                shortest.add(Float.toString(f)); // Java and Jackson's writer
                widened.add(Double.toString(f)); // a float widened to double, as Python and numpy write it
                fixedTexts.add(String.format(Locale.ROOT, "%.6f", f));
                fixed.add(fixedTexts.get(i)); // fixed decimals, as a C printf writes them
            }
            for (String text : List.of(shortest.toString(), widened.toString())) {
                byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
                float[] read = (float[]) NumberArrays.read(bytes, 0, bytes.length, DType.FP32, n);
                assertNotNull(read, text);
                assertEquals(Arrays.toString(values), Arrays.toString(read), text);
            }
            byte[] rounded = fixed.toString().getBytes(StandardCharsets.US_ASCII);
            float[] read = (float[]) NumberArrays.read(rounded, 0, rounded.length, DType.FP32, n);
            assertNotNull(read, fixed.toString());
            for (int i = 0; i < n; i++) {
                String one = fixedTexts.get(i);
                assertEquals(NumberInput.parseFloat(one, true), read[i], one);
            }
            sameOutcome(body(DType.FP32, shortestTexts), null);
            sameOutcome(body(DType.FP32, fixedTexts), null);
        }
    }

    @Test
    void theDirectReaderLeavesToJacksonWhatItCannotBeSureOf() {
        String[] refused = {"[1,]", "[,1]", "[01]", "[1.]", "[.5]", "[+1]", "[1e]", "[-]", "[NaN]", "[\"NaN\"]",
            "[1e39]", "[1 2]", "[[1],2]", "[[1,2],[3]]", "[1}", "[true]", "[null]", "[1,2,3]", " [1]"};
        for (String text : refused) {
            byte[] b = text.getBytes(StandardCharsets.US_ASCII);
            assertNull(NumberArrays.read(b, 0, b.length, DType.FP32, text.contains("2") ? 2 : 1), text);
        }
        byte[] fraction = "[1.5]".getBytes(StandardCharsets.US_ASCII);
        assertNull(NumberArrays.read(fraction, 0, fraction.length, DType.INT32, 1));
        byte[] big = "[128]".getBytes(StandardCharsets.US_ASCII);
        assertNull(NumberArrays.read(big, 0, big.length, DType.INT8, 1));
        byte[] nested = "[[1, 2],\n [3, 4]]".getBytes(StandardCharsets.US_ASCII);
        assertEquals("[1, 2, 3, 4]", Arrays.toString((long[]) NumberArrays.read(nested, 0, nested.length,
                DType.INT64, 4)));
    }

    @Test
    void structureAroundTheArraysMeansTheSame() {
        String data = "[[1.5,2.25],[3,-4e3]]";
        String[] bodies = {
            "{'inputs':[{'name':'x','datatype':'FP32','shape':[2,2],'data':" + data + "}]}",
            "{'inputs':[{'data':" + data + ",'name':'x','shape':[2,2],'datatype':'FP32'}]}",
            "{'id':'[{\\\"x','inputs' : [ {'name':'x]}','datatype':'FP32','shape':[2,2],'data' :\n" + data
                    + " } ] , 'outputs':[{'name':'y'}]}",
            "{'outputs':[{'name':'y','data':[1]}],'inputs':[{'name':'x','datatype':'FP32','shape':[2,2],'data':"
                    + data + ",'parameters':{'data':[9,9]}},{'name':'z','datatype':'INT64','shape':[3],'data':[7,8,9]}]}",
            "{'inputs':[{'name':'x','datatype':'FP32','shape':[2,2],'d\\u0061ta':" + data + "}]}",
            "{'inputs':[{'name':'x','datatype':'FP32','shape':[2,2],'data':" + data + ",'data':" + data + "}]}",
            "{'inputs':[{'name':'x','datatype':'FP32','shape':[2,2],'data':" + data + "}],'inputs':[]}",
            "{'inputs':[{'name':'x','datatype':'FP32','shape':[4],'data':" + data + "}]}",
            "{'inputs':[{'name':'x','datatype':'FP32','shape':[2,2],'data':[[1,2],[3]]}]}",
            "{'inputs':[{'name':'x','datatype':'FP32','shape':[2,2],'data':[[1,2],[3,4}}]}",
            "{'inputs':[{'name':'x','datatype':'FP32','shape':[2,2],'data':" + data + "}]} []",
            "{'inputs':[{'name':'x','datatype':'BOOL','shape':[2],'data':[true,0]}]}",
            "{'inputs':[{'name':'x','datatype':'FP32','shape':[2],'data':['NaN','-Infinity']}]}",
            "{'inputs':[{'name':'x','datatype':'FP32','shape':[1],'data':[1],'parameters':{'binary_data_size':4}}]}",
            "{'inputs':[1,{'name':'x','datatype':'FP32','shape':[2,2],'data':" + data + "}]}",
            "{'inputs':[{'name':'x','datatype':'FP32','shape':[2,2],'data':" + data + "},{'name':'x','datatype':"
                    + "'FP32','shape':[2,2],'data':" + data + "}]}",
        };
        for (String json : bodies) {
            sameOutcome(json.replace('\'', '"').getBytes(StandardCharsets.UTF_8), null);
        }
        // every prefix of a body with two large arrays
        byte[] whole = body(DType.FP32, List.of("0.25", "-1e-3", "7", "3.4028235E38"));
        for (int end = 0; end <= whole.length; end++) {
            sameOutcome(Arrays.copyOf(whole, end), null);
        }
    }

    @Test
    void binaryTensorsBesideJsonArraysAreHandedOutOnceEvenWhenTheBodyIsReadTwice() throws Exception {
        for (String second : List.of("[1,2,3,4]", "[1,2,3,x]", "[1,2,3]")) {
            String json = ("{'inputs':[{'name':'b','datatype':'FP32','shape':[2],'parameters':{'binary_data_size':8}},"
                    + "{'name':'x','datatype':'FP32','shape':[4],'data':" + second + "}]}").replace('\'', '"');
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.write(json.getBytes(StandardCharsets.UTF_8));
            out.write(new byte[] {0, 0, (byte) 0x80, 0x3f, 0, 0, 0, 0x40}); // 1.0f, 2.0f little-endian
            sameOutcome(out.toByteArray(), Integer.toString(json.length()));
        }
    }

    @Test
    void hostileBodiesMeanTheSameWithAndWithoutSpans() {
        for (int i = 0; i < 4000; i++) {
            Random random = new Random(31L * 1_000_003L + i);
            byte[] json = HostileRequests.json(random);
            sameOutcome(json, null);
            HostileRequests.Body binary = HostileRequests.binary(random);
            sameOutcome(binary.bytes(), binary.headerLength());
        }
    }

    @Test
    void corruptedLargeBodiesMeanTheSameWithAndWithoutSpans() {
        String seed = new String(body(DType.FP32, List.of("1.5", "-2e-3", "0.125", "42")), StandardCharsets.UTF_8)
                .replace("}]}", "},{'name':'i','datatype':'INT64','shape':[2,3],'data':[[1,2,3],[4,5,-6]]}],"
                        .replace('\'', '"') + "\"outputs\":[{\"name\":\"y\"}]}");
        sameOutcome(seed.getBytes(StandardCharsets.UTF_8), null);
        String alphabet = "{}[],:\"0123456789.eE-+ntfaNI\\ \n";
        Random random = new Random(13);
        for (int round = 0; round < 10_000; round++) {
            StringBuilder b = new StringBuilder(seed);
            for (int edits = 1 + random.nextInt(3); edits > 0 && b.length() > 0; edits--) {
                int at = random.nextInt(b.length());
                switch (random.nextInt(3)) {
                    case 0 -> b.setCharAt(at, alphabet.charAt(random.nextInt(alphabet.length())));
                    case 1 -> b.deleteCharAt(at);
                    default -> b.insert(at, alphabet.charAt(random.nextInt(alphabet.length())));
                }
            }
            sameOutcome(b.toString().getBytes(StandardCharsets.UTF_8), null);
        }
    }

    @Test
    void responsesMeanTheSameWithAndWithoutSpans() {
        OipBinary spans = new OipBinary(new OipJson(InputLimits.elementsOnly(1 << 20), 1));
        OipBinary jackson = new OipBinary(new OipJson(InputLimits.elementsOnly(1 << 20), Integer.MAX_VALUE));
        OipBinary spansOnly = new OipBinary(new OipJson(InputLimits.elementsOnly(1 << 20), 1, false));
        Random random = new Random(15);
        float[] values = new float[48];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        InferenceResponse response = new InferenceResponse("r", "m", "2", List.of(
                new NamedTensor("y", Tensor.ofFloats(new long[] {2, 24}, values)),
                new NamedTensor("k", Tensor.ofLongs(new long[] {3}, 7, -8, Long.MAX_VALUE)),
                new NamedTensor("z", Tensor.ofDoubles(new long[] {2}, 0.1, -2.5e-300))), "n1", "eu", 4, false);
        List<OipBinary.Body> seeds = List.of(
                jackson.encodeResponse(response, new OipBinary.BinaryOutputs(false, java.util.Map.of())),
                jackson.encodeResponse(response, new OipBinary.BinaryOutputs(false, java.util.Map.of("k", true))));
        String alphabet = "{}[],:\"0123456789.eE-+ntfaNI\\ \n";
        for (int round = 0; round < 6_000; round++) {
            OipBinary.Body seed = seeds.get(round % seeds.size());
            byte[] body = seed.bytes().clone();
            int jsonLength = seed.jsonLength();
            if (round >= seeds.size()) {
                for (int edits = 1 + random.nextInt(3); edits > 0; edits--) {
                    body[random.nextInt(jsonLength)] = (byte) alphabet.charAt(random.nextInt(alphabet.length()));
                }
            }
            String header = jsonLength == body.length ? null : Integer.toString(jsonLength);
            String label = new String(body, 0, jsonLength, StandardCharsets.UTF_8);
            String expected = responseOutcome(() -> jackson.decodeResponse(body, header));
            assertEquals(expected, responseOutcome(() -> spans.decodeResponse(body, header)), label);
            if (expected.startsWith("accepted")) {
                assertEquals(expected, responseOutcome(() -> spansOnly.decodeResponse(body, header)), label);
            }
        }
    }

    @Test
    void theEightByteSkipNeverPassesOverAQuoteBracketOrBrace() {
        byte[] structural = "\"[]{}".getBytes(StandardCharsets.US_ASCII);
        Random random = new Random(14);
        for (int round = 0; round < 200_000; round++) {
            long v = round < 256 * 8 ? (round % 256) * 0x0101_0101_0101_0101L : random.nextLong();
            int at = round < 256 * 8 ? round / 256 : random.nextInt(8);
            long c = structural[round % structural.length] & 0xFFL;
            long with = (v & ~(0xFFL << (8 * at))) | (c << (8 * at));
            assertTrue(DataSpans.mayBeStructural(with), Long.toHexString(with));
        }
        // and it does pass over number text, or it would gain nothing
        byte[] numbers = "[-0.12345678, 1E-5,\n\t 9.87e+12,0.5,\r\n-3]".getBytes(StandardCharsets.US_ASCII);
        for (int i = 1; i + 8 < numbers.length; i++) {
            long v = 0;
            for (int k = 7; k >= 0; k--) {
                v = v << 8 | (numbers[i + k] & 0xFF);
            }
            assertFalse(DataSpans.mayBeStructural(v), new String(numbers, i, 8, StandardCharsets.US_ASCII));
        }
    }

    @Test
    void onlyLargeArraysOfTheNamedListAreFound() {
        byte[] b = ("{'outputs':[{'name':'y','data':[1,2,3,4,5,6,7,8]}],'inputs':[{'name':'a','data':[1]},"
                + "{'name':'b','data':[1,2,3,4,5,6,7,8]}]}").replace('\'', '"').getBytes(StandardCharsets.UTF_8);
        DataSpans spans = DataSpans.find(b, b.length, TensorReader.Role.INPUT, 10, 8);
        assertNotNull(spans);
        assertTrue(!spans.has(0) && spans.has(1));
        assertEquals("[1,2,3,4,5,6,7,8]", new String(b, spans.start(1), spans.end(1) - spans.start(1),
                StandardCharsets.UTF_8));
        assertEquals("{\"outputs\":[{\"name\":\"y\",\"data\":[1,2,3,4,5,6,7,8]}],\"inputs\":[{\"name\":\"a\","
                + "\"data\":[1]},{\"name\":\"b\",\"data\":0}]}", new String(spans.compacted(), StandardCharsets.UTF_8));
        assertNull(DataSpans.find(b, b.length, TensorReader.Role.INPUT, 100, 8));
        assertNull(DataSpans.find(b, b.length - 1, TensorReader.Role.INPUT, 10, 8));
    }

    /** A request with one FP32-or-other input "x" holding {@code values} twice over, flat, and an input "y" nested. */
    private static byte[] body(DType type, List<String> values) {
        String flat = String.join(",", values);
        String json = "{\"id\":\"r\",\"inputs\":[{\"name\":\"x\",\"datatype\":\"" + type + "\",\"shape\":["
                + values.size() * 2 + "],\"data\":[" + flat + "," + flat + "]},{\"name\":\"y\",\"shape\":[2,"
                + values.size() + "],\"datatype\":\"" + type + "\",\"data\":[[" + flat + "],\n[" + flat + "]]}]}";
        return json.getBytes(StandardCharsets.UTF_8);
    }

    private static List<String> numberTexts(Random random) {
        List<String> texts = new ArrayList<>(List.of("0", "-0", "0.0", "-0.0", "0e0", "-0e-5", "0.000", "1", "-1",
                "1.0", "1E5", "1e+5", "-1E-5", "0.1", "0.30000001192092896", "16777217", "16777219", "33554434",
                "9007199254740993", "1.00000005960464477539062500", "1e-45", "1.4e-45", "1e-46", "7e-46",
                "1.1754942E-38", "1.17549435E-38", "3.4028235e38", "3.4028236e38", "3.4028235677973366e38",
                "3.5e38", "1e39", "-1e39", "1e308", "1.7976931348623157e308", "1.8e308", "4.9e-324", "2e-324",
                "127", "128", "-128", "-129", "255", "256", "32767", "32768", "-32769", "2147483647", "2147483648",
                "-2147483649", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                "-9223372036854775809", "123456789012345678901234567890", "1.5", "3.0", "1e3", "2.5e-1",
                "00", "01", "1.", ".5", "+1", "1e", "1e+", "-", "--1", "NaN", "\"NaN\"", "\"-inf\"", "Infinity",
                "true", "null", "\"1\"", "0x10", "1_0", "1e99999999999", "0e99999999999",
                "0.0000000000000000000000000001", "100000000000000000000000000000.0"));
        for (int i = 0; i < 400; i++) {
            StringBuilder s = new StringBuilder();
            if (random.nextBoolean()) {
                s.append('-');
            }
            int intDigits = 1 + random.nextInt(random.nextBoolean() ? 3 : 22);
            s.append(1 + random.nextInt(9));
            for (int d = 1; d < intDigits; d++) {
                s.append(random.nextInt(10));
            }
            if (random.nextBoolean()) {
                s.append('.');
                for (int d = 1 + random.nextInt(random.nextBoolean() ? 4 : 24); d > 0; d--) {
                    s.append(random.nextInt(10));
                }
            }
            if (random.nextInt(3) == 0) {
                s.append(random.nextBoolean() ? 'e' : 'E').append(random.nextBoolean() ? "-" : "")
                        .append(random.nextInt(60));
            }
            texts.add(s.toString());
            float f = Float.intBitsToFloat(random.nextInt());
            if (Float.isFinite(f)) {
                texts.add(Float.toString(f));
                texts.add(Double.toString(f));
            }
            double d = Double.longBitsToDouble(random.nextLong());
            if (Double.isFinite(d)) {
                texts.add(Double.toString(d));
            }
        }
        texts.addAll(doubleRoundingTraps(random));
        return texts;
    }

    /**
     * Decimals that are not halfway between two floats but whose nearest double is: read
     * through a double, they round twice, and half of them to the wrong float.
     */
    private static List<String> doubleRoundingTraps(Random random) {
        List<String> traps = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            float f = (float) Math.pow(10, random.nextDouble() * 20 - 10);
            double halfway = ((double) f + (double) Math.nextUp(f)) / 2;
            BigDecimal exact = new BigDecimal(halfway);
            for (int digits = 15; digits <= 17; digits++) {
                BigDecimal near = exact.round(new MathContext(digits, RoundingMode.HALF_EVEN));
                if (near.compareTo(exact) != 0 && near.doubleValue() == halfway) {
                    traps.add(near.toString());
                }
            }
        }
        assertTrue(traps.size() > 50, "only " + traps.size() + " traps");
        return traps;
    }

    /** Decodes the body with and without spans, with both limits, and requires the same outcome. */
    private static void sameOutcome(byte[] body, String headerLength) {
        String bodyText = new String(body, StandardCharsets.UTF_8);
        String label = bodyText.length() > 300 ? bodyText.substring(0, 300) + "..." : bodyText;
        String jackson = outcome(() -> JACKSON.decodeRequest(body, headerLength, "m", null, DEFAULT_TIMEOUT,
                MAX_TIMEOUT));
        assertEquals(jackson, outcome(() -> SPANS.decodeRequest(body, headerLength, "m", null, DEFAULT_TIMEOUT,
                MAX_TIMEOUT)), label);
        if (jackson.startsWith("accepted")) {
            assertEquals(jackson, outcome(() -> SPANS_ONLY.decodeRequest(body, headerLength, "m", null,
                    DEFAULT_TIMEOUT, MAX_TIMEOUT)), label);
        }
        assertEquals(outcome(() -> SMALL_JACKSON.decodeRequest(body, headerLength, "m", null, DEFAULT_TIMEOUT,
                MAX_TIMEOUT)), outcome(() -> SMALL_SPANS.decodeRequest(body, headerLength, "m", null,
                DEFAULT_TIMEOUT, MAX_TIMEOUT)), label);
    }

    private static String responseOutcome(Supplier<InferenceResponse> decode) {
        InferenceResponse r;
        try {
            r = decode.get();
        } catch (InvalidInput e) {
            return "refused: " + e.getMessage();
        }
        StringBuilder s = new StringBuilder("accepted: ").append(r.id()).append(' ').append(r.model()).append(' ')
                .append(r.version()).append(' ').append(r.node()).append(' ').append(r.region()).append(' ')
                .append(r.batchRows());
        for (NamedTensor t : r.outputs()) {
            s.append('\n').append(t.name()).append(' ').append(t.tensor().dtype()).append(' ')
                    .append(Arrays.toString(t.tensor().shape())).append(' ').append(bits(t.tensor()));
        }
        return s.toString();
    }

    private static String outcome(Supplier<OipBinary.Request> decode) {
        OipBinary.Request r;
        try {
            r = decode.get();
        } catch (InvalidInput e) {
            return "refused: " + e.getMessage();
        }
        InferenceRequest q = r.request();
        // the id is left out: a body without one gets a random one
        StringBuilder s = new StringBuilder("accepted: ").append(q.outputs()).append(' ')
                .append(q.timeoutMillis()).append(' ').append(q.residency()).append(' ').append(q.routingKey())
                .append(' ').append(r.binaryOutputs());
        for (NamedTensor t : q.inputs()) {
            s.append('\n').append(t.name()).append(' ').append(t.tensor().dtype()).append(' ')
                    .append(Arrays.toString(t.tensor().shape())).append(' ').append(bits(t.tensor()));
        }
        return s.toString();
    }

    /** The elements exactly: floating-point values by their bits. */
    private static String bits(Tensor t) {
        return switch (t.dtype()) {
            case FP32 -> {
                float[] f = t.floats();
                int[] raw = new int[f.length];
                for (int i = 0; i < f.length; i++) {
                    raw[i] = Float.floatToRawIntBits(f[i]);
                }
                yield Arrays.toString(raw);
            }
            case FP64 -> {
                double[] d = t.doubles();
                long[] raw = new long[d.length];
                for (int i = 0; i < d.length; i++) {
                    raw[i] = Double.doubleToRawLongBits(d[i]);
                }
                yield Arrays.toString(raw);
            }
            case INT8, UINT8 -> Arrays.toString(t.bytes());
            case INT16 -> Arrays.toString(t.shorts());
            case INT32 -> Arrays.toString(t.ints());
            case INT64 -> Arrays.toString(t.longs());
            case BOOL -> Arrays.toString(t.booleans());
        };
    }
}
