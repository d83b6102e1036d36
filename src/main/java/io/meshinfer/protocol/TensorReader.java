package io.meshinfer.protocol;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonParser.NumberType;
import com.fasterxml.jackson.core.JsonToken;
import io.meshinfer.api.InferenceException.InvalidInput;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.StringJoiner;

/**
 * Reads one tensor object of an Open Inference Protocol body ({@code {"name", "datatype",
 * "shape", "parameters"?, "data"}}) into a {@link NamedTensor}, with {@code data} parsed
 * straight into the primitive array of the declared datatype.
 *
 * <p>Fields may come in any order. When {@code data} arrives before the name, datatype and
 * shape are known, its tokens are only checked for syntax and skipped; once the object
 * ends, {@code data} is parsed a second time from its byte offset in the body. That costs
 * a second tokenization of the data in this rare case, but never a boxed or intermediate
 * buffer, and the array is always allocated once at its exact size.
 *
 * <p>Given a {@link BinaryTail} that is present, a tensor may instead carry
 * {@code "parameters": {"binary_data_size": n}} and no {@code data} (the binary tensor data
 * extension): its data is then taken from the raw bytes after the JSON, in tensor order.
 * Without a tail such a tensor is refused as before.
 *
 * <p>One instance reads one object on one thread; it is not thread-safe.
 */
final class TensorReader {
    /** Whether the tensor is a request input or a response output: only the wording of errors differs. */
    enum Role {
        INPUT("input", "inputs"),
        OUTPUT("output", "outputs");

        final String noun;
        final String list;
        /** {@link #list} as the bytes of a JSON key, for {@link DataSpans}; never modified. */
        final byte[] listKey;

        Role(String noun, String list) {
            this.noun = noun;
            this.list = list;
            this.listKey = list.getBytes(StandardCharsets.UTF_8);
        }
    }

    /**
     * What the tensors of one body have claimed so far against the per-body limits; each
     * tensor claims its elements and bytes once its header is known, before its data is
     * allocated. One instance per decode, not thread-safe.
     */
    static final class Budget {
        private final InputLimits limits;
        private final Role role;
        private long elements;
        private long bytes;

        Budget(InputLimits limits, Role role) {
            this.limits = limits;
            this.role = role;
        }

        /** Claims a tensor's share; {@code label} names it in the refusal. */
        void claim(String label, long n, DType type) {
            // both totals stay far below overflow: each tensor holds at most Tensor.MAX_ELEMENTS
            elements += n;
            bytes += n * type.byteSize();
            String per = role == Role.INPUT ? "request" : "response";
            if (elements > limits.maxRequestElements()) {
                throw invalid(label + ": the " + role.list + " would hold " + elements
                        + " elements, more than the limit of " + limits.maxRequestElements() + " per " + per);
            }
            if (bytes > limits.maxRequestBytes()) {
                throw invalid(label + ": the " + role.list + " would hold " + bytes
                        + " bytes, more than the limit of " + limits.maxRequestBytes() + " per " + per);
            }
        }
    }

    private static final String SUPPORTED = supportedTypes();
    /** Longest piece of a client's text (a name, an element) quoted back in a message. */
    private static final int SHOWN_CHARS = 40;
    private static final byte HOLDS_VALUES = 1;
    private static final byte HOLDS_ARRAYS = 2;
    private static final int SEEN_NAME = 1;
    private static final int SEEN_DATATYPE = 2;
    private static final int SEEN_SHAPE = 4;
    private static final int SEEN_DATA = 8;
    private static final int SEEN_PARAMETERS = 16;

    private final JsonFactory factory;
    private final byte[] body;
    /** End of the JSON in {@link #body}: its length, or the JSON header's in binary mode. */
    private final int end;
    private final Role role;
    private final int index;
    private final InputLimits limits;
    private final long maxElements;
    private final Budget budget;
    /** Where binary tensor data comes from; null where the extension is not offered. */
    private final BinaryTail tail;
    /** Where the large data arrays lie when {@link #body} is their compacted body; null otherwise. */
    private final DataSpans spans;

    private String name;
    private String datatype;
    private long[] shape;
    /** Why the shape is unusable, reported (with the tensor's name) once the object is read. */
    private String shapeProblem;
    private boolean binaryData;
    private long binarySize = -1;
    /** Why {@code binary_data_size} is unusable, reported only if the tensor is read as binary. */
    private String binarySizeProblem;
    private DType dtype;
    private int elements;
    private Object data;
    private int deferredData = -1;
    /** Whether {@code data} is a placeholder for a span, to be read once the header is known. */
    private boolean deferredSpan;

    private float[] f32;
    private double[] f64;
    private byte[] i8;
    private short[] i16;
    private int[] i32;
    private long[] i64;
    private boolean[] bools;

    TensorReader(JsonFactory factory, byte[] body, int end, Role role, int index, InputLimits limits, Budget budget,
            BinaryTail tail, DataSpans spans) {
        this.factory = factory;
        this.body = body;
        this.end = end;
        this.role = role;
        this.index = index;
        this.limits = limits;
        this.maxElements = limits.maxTensorElements();
        this.budget = budget;
        this.tail = tail;
        this.spans = spans;
    }

    /** Reads the object whose START_OBJECT (or offending token) is {@code p}'s current token. */
    NamedTensor read(JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw invalid(position() + " must be an object");
        }
        int seen = 0;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken v = p.nextToken();
            switch (field) {
                case "name" -> {
                    seen = once(seen, SEEN_NAME, field);
                    if (v != JsonToken.VALUE_STRING) {
                        throw invalid(position() + ": \"name\" must be a string");
                    }
                    String text = OipJson.boundedText(p, position() + ": \"name\"", limits.maxNameLength());
                    if (text.isEmpty()) {
                        throw invalid(position() + ": \"name\" is empty");
                    }
                    name = text;
                }
                case "datatype" -> {
                    seen = once(seen, SEEN_DATATYPE, field);
                    if (v != JsonToken.VALUE_STRING) {
                        throw invalid(label() + ": \"datatype\" must be a string");
                    }
                    datatype = p.getText();
                }
                case "shape" -> {
                    seen = once(seen, SEEN_SHAPE, field);
                    readShape(p, v);
                }
                case "data" -> {
                    seen = once(seen, SEEN_DATA, field);
                    boolean headerKnown = name != null && datatype != null && (shape != null || shapeProblem != null);
                    if (spans != null && spans.has(index)) {
                        p.skipChildren(); // the placeholder
                        if (headerKnown) {
                            resolveHeader();
                            data = readSpan();
                        } else {
                            deferredSpan = true;
                        }
                    } else if (headerKnown) {
                        resolveHeader();
                        data = readData(p, end);
                    } else {
                        long offset = p.currentTokenLocation().getByteOffset();
                        if (offset < 0) {
                            throw invalid("the body must be UTF-8 encoded JSON");
                        }
                        deferredData = (int) offset;
                        p.skipChildren();
                    }
                }
                case "parameters" -> {
                    seen = once(seen, SEEN_PARAMETERS, field);
                    readParameters(p, v);
                }
                default -> p.skipChildren();
            }
        }
        if (name == null) {
            throw invalid(position() + ": missing \"name\"");
        }
        if (binaryData && tail != null && tail.present()) {
            Object raw = readBinary();
            return new NamedTensor(name, Tensor.of(dtype, shape, raw));
        }
        if (data == null && deferredSpan) {
            resolveHeader();
            data = readSpan();
        }
        if (data == null) {
            resolveHeader();
            if (deferredData < 0) {
                if (binaryData && tail != null) {
                    throw tail.missingHeader(label());
                }
                throw invalid(label() + (binaryData
                        ? ": binary tensor data (\"binary_data_size\") is not supported, send \"data\" as a JSON array"
                        : ": missing \"data\""));
            }
            try (JsonParser q = factory.createParser(body, deferredData, end - deferredData)) {
                q.nextToken();
                data = readData(q, end);
            }
        }
        return new NamedTensor(name, Tensor.of(dtype, shape, data));
    }

    /** The data of a tensor sent as binary, checked against its header before any byte is read. */
    private Object readBinary() {
        if (data != null || deferredData >= 0 || deferredSpan) {
            throw invalid(label() + ": has both \"data\" and \"binary_data_size\"; send one of them");
        }
        resolveHeader();
        if (binarySizeProblem != null) {
            throw invalid(label() + ": " + binarySizeProblem);
        }
        long needed = (long) elements * dtype.byteSize();
        if (binarySize != needed) {
            throw invalid(label() + ": binary_data_size is " + binarySize + ", but shape " + Arrays.toString(shape)
                    + " of " + dtype + " needs " + needed + " bytes");
        }
        return tail.take(label(), dtype, elements);
    }

    private int once(int seen, int bit, String field) {
        if ((seen & bit) != 0) {
            throw invalid(label() + ": duplicate field \"" + field + "\"");
        }
        return seen | bit;
    }

    private void readParameters(JsonParser p, JsonToken v) throws IOException {
        if (v == JsonToken.VALUE_NULL) {
            return;
        }
        if (v != JsonToken.START_OBJECT) {
            throw invalid(label() + ": \"parameters\" must be an object");
        }
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            boolean size = "binary_data_size".equals(p.currentName());
            JsonToken pv = p.nextToken();
            if (size && tail != null) {
                if (binaryData) {
                    throw invalid(label() + ": duplicate parameter \"binary_data_size\"");
                }
                if (pv == JsonToken.VALUE_NUMBER_INT && p.getNumberType() != NumberType.BIG_INTEGER
                        && p.getLongValue() >= 0) {
                    binarySize = p.getLongValue();
                } else {
                    binarySizeProblem = "parameter \"binary_data_size\" must be a non-negative integer (bytes), got "
                            + describe(p, pv);
                }
            }
            binaryData |= size;
            p.skipChildren();
        }
    }

    private void readShape(JsonParser p, JsonToken v) throws IOException {
        if (v != JsonToken.START_ARRAY) {
            shapeProblem = "\"shape\" must be an array of integers";
            p.skipChildren();
            return;
        }
        long[] dims = new long[4];
        int rank = 0;
        long count = 0;
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            // dimensions beyond the limit are counted for the message, never stored
            if (count++ >= limits.maxRank()) {
                p.skipChildren();
                continue;
            }
            if (shapeProblem == null) {
                if (t == JsonToken.VALUE_NUMBER_INT && p.getNumberType() != NumberType.BIG_INTEGER
                        && p.getLongValue() <= limits.maxDimension()) {
                    if (rank == dims.length) {
                        dims = Arrays.copyOf(dims, rank * 2);
                    }
                    dims[rank++] = p.getLongValue();
                } else if (t == JsonToken.VALUE_NUMBER_INT) {
                    shapeProblem = "shape dimension " + rank + " is " + describe(p, t)
                            + ", more than the limit of " + limits.maxDimension();
                } else {
                    shapeProblem = "shape dimension " + rank + " is " + describe(p, t) + ", not an integer";
                }
            }
            p.skipChildren();
        }
        if (count > limits.maxRank()) {
            shapeProblem = "shape has " + count + " dimensions, more than the limit of " + limits.maxRank();
        }
        shape = shapeProblem == null ? Arrays.copyOf(dims, rank) : null;
    }

    /** Checks datatype and shape, in the order a user would fix them, and sizes the data. */
    private void resolveHeader() {
        if (dtype != null) {
            return;
        }
        if (datatype == null) {
            throw invalid(label() + ": missing \"datatype\"");
        }
        DType type;
        try {
            type = DType.fromProtocolName(datatype);
        } catch (IllegalArgumentException e) {
            throw invalid(label() + ": unsupported datatype '" + shorten(datatype) + "' (supported: " + SUPPORTED + ")");
        }
        if (shapeProblem != null) {
            throw invalid(label() + ": " + shapeProblem);
        }
        if (shape == null) {
            throw invalid(label() + ": missing \"shape\"");
        }
        for (long d : shape) {
            if (d < 0) {
                throw invalid(label() + ": negative dimension in shape " + Arrays.toString(shape));
            }
        }
        // Every prefix product is bounded, as Tensor.elementCount requires.
        long n = 1;
        for (long d : shape) {
            if (d != 0 && n > maxElements / d) {
                throw invalid(label() + ": shape " + Arrays.toString(shape) + " exceeds the limit of "
                        + maxElements + " elements");
            }
            n *= d;
        }
        budget.claim(label(), n, type);
        dtype = type;
        elements = (int) n;
    }

    /**
     * This tensor's data from its span of the original body: read directly where
     * {@link NumberArrays} can, else by Jackson from the span alone.
     */
    private Object readSpan() throws IOException {
        byte[] original = spans.body();
        int from = spans.start(index);
        int to = spans.end(index);
        Object read = NumberArrays.read(original, from, to, dtype, elements);
        if (read != null) {
            return read;
        }
        try (JsonParser q = factory.createParser(original, from, to - from)) {
            q.nextToken();
            Object out = readData(q, to - from);
            if (q.nextToken() != null) {
                // the scan matched brackets that Jackson does not: the decoder reads the body again
                throw invalid(label() + ": malformed \"data\"");
            }
            return out;
        }
    }

    /**
     * Parses the data value that is {@code p}'s current token into an array of {@link #elements};
     * {@code available} is how many bytes the value can span at most.
     */
    private Object readData(JsonParser p, int available) throws IOException {
        int n = elements;
        // n values take at least 2n - 1 bytes, so a larger count cannot be in this body:
        // count the values without allocating n of them.
        boolean keep = n <= available / 2;
        Object out = null;
        if (keep) {
            out = dtype.newArray(n);
            bind(out);
        }
        JsonToken t = p.currentToken();
        int count;
        if (t == JsonToken.START_ARRAY) {
            count = readArray(p, n, keep);
        } else if (t == JsonToken.START_OBJECT || t == JsonToken.VALUE_NULL) {
            throw invalid(label() + ": \"data\" must be an array, got " + describe(p, t));
        } else {
            if (keep && n > 0) {
                store(p, t, 0);
            }
            count = 1;
        }
        if (count != n || !keep) {
            throw invalid(label() + ": data has " + count + " elements, shape " + Arrays.toString(shape)
                    + " needs " + n);
        }
        return out;
    }

    /**
     * Flattens a possibly nested array in row-major order and returns its element count.
     * Nested arrays must be regular: at each level all arrays have the same length and
     * hold either values or arrays.
     */
    private int readArray(JsonParser p, int n, boolean keep) throws IOException {
        int[] length = new int[8];
        int[] count = new int[8];
        byte[] holds = new byte[8];
        Arrays.fill(length, -1);
        int level = 1;
        int i = 0;
        while (true) {
            JsonToken t = p.nextToken();
            if (t == JsonToken.END_ARRAY) {
                if (length[level] < 0) {
                    length[level] = count[level];
                } else if (length[level] != count[level]) {
                    throw invalid(label() + ": data is ragged: arrays at nesting level " + level + " have "
                            + length[level] + " and " + count[level] + " elements");
                }
                if (--level == 0) {
                    return i;
                }
                continue;
            }
            count[level]++;
            if (t == JsonToken.START_ARRAY) {
                if (holds[level] == HOLDS_VALUES) {
                    throw mixed(level);
                }
                holds[level] = HOLDS_ARRAYS;
                if (++level == length.length) {
                    length = Arrays.copyOf(length, level * 2);
                    Arrays.fill(length, level, length.length, -1);
                    count = Arrays.copyOf(count, level * 2);
                    holds = Arrays.copyOf(holds, level * 2);
                }
                count[level] = 0;
                continue;
            }
            if (holds[level] != HOLDS_VALUES) {
                if (holds[level] == HOLDS_ARRAYS) {
                    throw mixed(level);
                }
                holds[level] = HOLDS_VALUES;
            }
            if (keep && i < n) {
                store(p, t, i);
            } else {
                p.skipChildren();
            }
            i++;
        }
    }

    private InvalidInput mixed(int level) {
        return invalid(label() + ": data is ragged: nesting level " + level + " mixes values and arrays");
    }

    private void bind(Object array) {
        switch (dtype) {
            case FP32 -> f32 = (float[]) array;
            case FP64 -> f64 = (double[]) array;
            case INT8, UINT8 -> i8 = (byte[]) array;
            case INT16 -> i16 = (short[]) array;
            case INT32 -> i32 = (int[]) array;
            case INT64 -> i64 = (long[]) array;
            case BOOL -> bools = (boolean[]) array;
        }
    }

    private void store(JsonParser p, JsonToken t, int i) throws IOException {
        switch (dtype) {
            case FP32 -> f32[i] = floatAt(p, t, i);
            case FP64 -> f64[i] = doubleAt(p, t, i);
            case INT8 -> i8[i] = (byte) integerAt(p, t, i, Byte.MIN_VALUE, Byte.MAX_VALUE);
            case UINT8 -> i8[i] = (byte) integerAt(p, t, i, 0, 255);
            case INT16 -> i16[i] = (short) integerAt(p, t, i, Short.MIN_VALUE, Short.MAX_VALUE);
            case INT32 -> i32[i] = (int) integerAt(p, t, i, Integer.MIN_VALUE, Integer.MAX_VALUE);
            case INT64 -> i64[i] = integerAt(p, t, i, Long.MIN_VALUE, Long.MAX_VALUE);
            case BOOL -> bools[i] = booleanAt(p, t, i);
        }
    }

    private float floatAt(JsonParser p, JsonToken t, int i) throws IOException {
        if (t == JsonToken.VALUE_NUMBER_FLOAT || t == JsonToken.VALUE_NUMBER_INT) {
            float v = p.getFloatValue();
            // isNaN() is true for the NaN/Infinity literals, false for a finite literal that overflowed.
            if (Float.isInfinite(v) && !p.isNaN()) {
                throw outOfRange(p, t, i);
            }
            return v;
        }
        if (t == JsonToken.VALUE_STRING) {
            return (float) nonFinite(p, t, i);
        }
        throw notA(p, t, i, "a number");
    }

    private double doubleAt(JsonParser p, JsonToken t, int i) throws IOException {
        if (t == JsonToken.VALUE_NUMBER_FLOAT || t == JsonToken.VALUE_NUMBER_INT) {
            double v = p.getDoubleValue();
            if (Double.isInfinite(v) && !p.isNaN()) {
                throw outOfRange(p, t, i);
            }
            return v;
        }
        if (t == JsonToken.VALUE_STRING) {
            return nonFinite(p, t, i);
        }
        throw notA(p, t, i, "a number");
    }

    /** "NaN", "Infinity", "-Infinity" (also "inf", "+inf", any case) as a string element. */
    private double nonFinite(JsonParser p, JsonToken t, int i) throws IOException {
        String s = p.getText();
        int start = 0;
        boolean negative = false;
        if (!s.isEmpty() && (s.charAt(0) == '-' || s.charAt(0) == '+')) {
            negative = s.charAt(0) == '-';
            start = 1;
        }
        String word = s.substring(start);
        if (word.equalsIgnoreCase("nan")) {
            return Double.NaN;
        }
        if (word.equalsIgnoreCase("infinity") || word.equalsIgnoreCase("inf")) {
            return negative ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
        }
        throw notA(p, t, i, "a number");
    }

    private long integerAt(JsonParser p, JsonToken t, int i, long min, long max) throws IOException {
        long v;
        if (t == JsonToken.VALUE_NUMBER_INT) {
            NumberType type = p.getNumberType();
            if (type == NumberType.INT) {
                v = p.getIntValue();
            } else if (type == NumberType.LONG) {
                v = p.getLongValue();
            } else {
                throw outOfRange(p, t, i);
            }
        } else if (t == JsonToken.VALUE_NUMBER_FLOAT) {
            v = integralValue(p, t, i);
        } else {
            throw notA(p, t, i, "an integer");
        }
        if (v < min || v > max) {
            throw outOfRange(p, t, i);
        }
        return v;
    }

    /** A number written with a fraction or exponent, accepted when its value is integral (3.0, 1e3). */
    private long integralValue(JsonParser p, JsonToken t, int i) throws IOException {
        if (p.isNaN()) {
            throw notA(p, t, i, "an integer");
        }
        BigDecimal d;
        try {
            d = p.getDecimalValue();
        } catch (NumberFormatException e) {
            // Only an exponent beyond int range gets here: huge, or a tiny fraction.
            String text = p.getText();
            int exp = Math.max(text.indexOf('e'), text.indexOf('E'));
            if (exp >= 0 && exp + 1 < text.length() && text.charAt(exp + 1) == '-') {
                throw notA(p, t, i, "an integer");
            }
            throw outOfRange(p, t, i);
        }
        // Decide on the digit count first: 1e999999999 must not become a huge BigInteger.
        if ((long) d.precision() - d.scale() > 19) {
            throw outOfRange(p, t, i);
        }
        BigDecimal stripped = d.stripTrailingZeros();
        if (stripped.scale() > 0) {
            throw notA(p, t, i, "an integer");
        }
        BigInteger b = stripped.toBigInteger();
        if (b.bitLength() > 63) {
            throw outOfRange(p, t, i);
        }
        return b.longValue();
    }

    private boolean booleanAt(JsonParser p, JsonToken t, int i) throws IOException {
        if (t == JsonToken.VALUE_TRUE) {
            return true;
        }
        if (t == JsonToken.VALUE_FALSE) {
            return false;
        }
        if (t == JsonToken.VALUE_NUMBER_INT && p.getNumberType() == NumberType.INT) {
            int v = p.getIntValue();
            if (v == 0 || v == 1) {
                return v == 1;
            }
        }
        throw notA(p, t, i, "a boolean (true, false, 0 or 1)");
    }

    private InvalidInput notA(JsonParser p, JsonToken t, int i, String what) throws IOException {
        return invalid(label() + ": element " + i + " is " + describe(p, t) + ", not " + what);
    }

    private InvalidInput outOfRange(JsonParser p, JsonToken t, int i) throws IOException {
        return invalid(label() + ": element " + i + " is " + describe(p, t) + ", out of range for " + dtype
                + range(dtype));
    }

    private static String range(DType type) {
        return switch (type) {
            case INT8 -> " (-128..127)";
            case UINT8 -> " (0..255)";
            case INT16 -> " (-32768..32767)";
            case INT32 -> " (-2147483648..2147483647)";
            case INT64 -> " (-9223372036854775808..9223372036854775807)";
            case FP32, FP64, BOOL -> "";
        };
    }

    /** The current token as a user would recognise it in their body, cut short if long. */
    static String describe(JsonParser p, JsonToken t) throws IOException {
        if (t == null) {
            return "the end of the body";
        }
        return switch (t) {
            case VALUE_STRING -> '"' + shorten(p.getText()) + '"';
            case START_OBJECT -> "an object";
            case START_ARRAY -> "an array";
            case VALUE_NULL -> "null";
            default -> shorten(p.getText());
        };
    }

    static String shorten(String s) {
        return s.length() <= SHOWN_CHARS ? s : s.substring(0, SHOWN_CHARS) + "...";
    }

    private String position() {
        return role.list + "[" + index + "]";
    }

    private String label() {
        return name == null ? position() : role.noun + " '" + shorten(name) + "'";
    }

    static InvalidInput invalid(String message) {
        return new InvalidInput(message);
    }

    private static String supportedTypes() {
        StringJoiner j = new StringJoiner(", ");
        for (DType t : DType.values()) {
            j.add(t.name());
        }
        return j.toString();
    }
}
