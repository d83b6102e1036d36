package io.meshinfer.protocol;

import com.fasterxml.jackson.core.ErrorReportConfiguration;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonParser.NumberType;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.StreamWriteFeature;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import io.meshinfer.api.EnsembleReport;
import io.meshinfer.api.InferenceException.InvalidInput;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.protocol.TensorReader.Role;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * The JSON codec of the Open Inference Protocol (KServe v2): inference request and
 * response bodies to and from {@link InferenceRequest} and {@link InferenceResponse}, for
 * the gateway (decode requests, encode responses) and for clients (the reverse); and the
 * golden vectors a deploy may supply ({@link #decodeGolden}), in the same tensor form.
 *
 * <p>Built for the hot path: Jackson's streaming parser and generator, tensor data parsed
 * straight into a primitive array of the declared datatype and written straight from it,
 * no trees, no boxing. Large data arrays of a request's inputs or a response's outputs are
 * not tokenized by Jackson at all: {@link DataSpans} finds them and {@link NumberArrays}
 * reads them from the bytes, with the same values and, through a second reading of any
 * refused body, the same refusals. Data may be flat (the protocol's form) or nested, in
 * which case it is flattened in row-major order; fields may come in any order; unknown
 * fields are skipped.
 *
 * <p>Guarantees: every malformed body is refused with an
 * {@link io.meshinfer.api.InferenceException.InvalidInput} whose message names the tensor
 * and field at fault and quotes at most the one offending element (cut short), never
 * other tensor data; no other exception escapes a decode method. Every {@link InputLimits}
 * limit (rank, dimension, elements per tensor and per body, bytes per body, tensor count,
 * requested outputs, string lengths, residency regions) is checked before anything it
 * bounds is allocated, and no string longer than {@link InputLimits#MAX_STRING} is decoded
 * in full. NaN
 * and infinities are written as the strings {@code "NaN"}, {@code "Infinity"} and
 * {@code "-Infinity"} (so the output stays valid JSON) and read back from those strings
 * or from the bare literals.
 *
 * <p>The public methods speak JSON only: a tensor with {@code binary_data_size} and no
 * {@code data} is refused. {@link OipBinary} reuses this parser on the JSON header of a body
 * in the binary tensor data extension.
 *
 * <p>Instances are immutable and thread-safe; all share one Jackson {@link JsonFactory}.
 */
public final class OipJson {
    private static final JsonFactory FACTORY = JsonFactory.builder()
            // No string longer than the longest a limit allows is ever decoded in full.
            .streamReadConstraints(StreamReadConstraints.builder().maxStringLength(InputLimits.MAX_STRING).build())
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .enable(StreamReadFeature.USE_FAST_DOUBLE_PARSER)
            .disable(StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION)
            // Schubfach: shortest text that reads back exactly, faster than JDK 17's toString
            // (though it allocates more garbage per number). FP32 data arrays are written by
            // FloatText instead, with the same text and no garbage.
            .enable(StreamWriteFeature.USE_FAST_DOUBLE_WRITER)
            // NaN and infinities as "NaN", "Infinity", "-Infinity": bare literals are not JSON.
            .enable(JsonWriteFeature.WRITE_NAN_AS_STRINGS)
            // Jackson quotes the offending token in its messages; keep that short.
            .errorReportConfiguration(ErrorReportConfiguration.builder()
                    .maxErrorTokenLength(40)
                    .maxRawContentLength(40)
                    .build())
            .build();
    private static final byte[] QUOTED_NAN = "\"NaN\"".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] QUOTED_INFINITY = "\"Infinity\"".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] QUOTED_MINUS_INFINITY = "\"-Infinity\"".getBytes(StandardCharsets.US_ASCII);
    private static final Pattern JACKSON_LOCATION =
            Pattern.compile("\\[Source: [^\\]]*?; line: (\\d+), column: (\\d+)\\]");
    private static final Pattern JACKSON_SETTING = Pattern.compile(", from `[^`]*`");
    private static final int MAX_SIZE_HINT = 1 << 26;

    private final InputLimits limits;
    /** Data arrays of at least this many bytes are read from their spans ({@link DataSpans}). */
    private final int minSpan;
    /** Whether a body refused after compaction is read again as it is (always, outside tests). */
    private final boolean readAgain;

    /**
     * A codec that bounds only the elements of each tensor (for clients decoding responses).
     *
     * @param maxElements the most elements one tensor of a decoded body may hold; larger
     *     shapes are refused before allocation
     */
    public OipJson(long maxElements) {
        if (maxElements < 1 || maxElements > Tensor.MAX_ELEMENTS) {
            throw new IllegalArgumentException("maxElements must be in 1.." + Tensor.MAX_ELEMENTS
                    + ", got " + maxElements);
        }
        this.limits = InputLimits.elementsOnly(maxElements);
        this.minSpan = DataSpans.MIN_LENGTH;
        this.readAgain = true;
    }

    /** A codec that refuses, before allocating, any body beyond {@code limits} (for servers). */
    public OipJson(InputLimits limits) {
        this(limits, DataSpans.MIN_LENGTH);
    }

    /**
     * A server's codec that reads data arrays of at least {@code minSpan} bytes from their
     * spans; tests use 1 (every array) and {@link Integer#MAX_VALUE} (none) to compare.
     */
    OipJson(InputLimits limits, int minSpan) {
        this(limits, minSpan, true);
    }

    /**
     * As {@link #OipJson(InputLimits, int)}; without {@code readAgain} a body refused after
     * compaction is not read again (tests check that accepted bodies never need it).
     */
    OipJson(InputLimits limits, int minSpan, boolean readAgain) {
        if (limits == null) {
            throw new IllegalArgumentException("limits are required");
        }
        this.limits = limits;
        this.minSpan = minSpan;
        this.readAgain = readAgain;
    }

    public long maxElements() {
        return limits.maxTensorElements();
    }

    public InputLimits limits() {
        return limits;
    }

    /**
     * Decodes the body of {@code POST /v2/models/{model}[/versions/{version}]/infer}.
     *
     * @param model the model named in the path
     * @param version the version named in the path, or null
     * @param defaultTimeoutMillis the budget when the body sets no {@code timeout_ms}
     * @param maxTimeoutMillis the most a body's {@code timeout_ms} is granted
     * @throws InvalidInput for any malformed body, with a message the sender can act on
     */
    public InferenceRequest decodeRequest(byte[] body, String model, String version,
            long defaultTimeoutMillis, long maxTimeoutMillis) {
        return decodeRequest(body, body == null ? 0 : body.length, null, model, version, defaultTimeoutMillis,
                maxTimeoutMillis).request();
    }

    /**
     * Decodes the JSON in the first {@code end} bytes of {@code body}, taking the data of
     * binary inputs from {@code tail} (null: binary inputs are refused), and reads which
     * outputs the caller wants as binary.
     */
    OipBinary.Request decodeRequest(byte[] body, int end, BinaryTail tail, String model, String version,
            long defaultTimeoutMillis, long maxTimeoutMillis) {
        if (defaultTimeoutMillis <= 0 || maxTimeoutMillis <= 0) {
            throw new IllegalArgumentException("timeouts must be positive, got default " + defaultTimeoutMillis
                    + " ms and max " + maxTimeoutMillis + " ms");
        }
        if (model == null || model.isEmpty()) {
            throw invalid("a model name is required");
        }
        return withSpans(body, end, tail, Role.INPUT, (json, jsonEnd, spans) -> decodeRequest(json, jsonEnd, spans,
                tail, model, version, defaultTimeoutMillis, maxTimeoutMillis));
    }

    /** One decode of the JSON in {@code json[0, end)}, whose large data arrays lie in {@code spans} if not null. */
    private interface SpanDecode<T> {
        T decode(byte[] json, int end, DataSpans spans);
    }

    /**
     * Decodes with the large data arrays of {@code role}'s list read from their spans
     * ({@link DataSpans}); decodes the body as it is when it has none, or when the compacted
     * body is refused, so that a refusal is worded and placed as for any body.
     */
    private <T> T withSpans(byte[] body, int end, BinaryTail tail, Role role, SpanDecode<T> decode) {
        DataSpans spans = DataSpans.find(body, end, role, minSpan, limits.maxTensors());
        if (spans != null) {
            try {
                byte[] json = spans.compacted();
                return decode.decode(json, json.length, spans);
            } catch (InvalidInput e) {
                if (!readAgain) {
                    throw e;
                }
                if (tail != null) {
                    tail.rewind();
                }
            }
        }
        return decode.decode(body, end, null);
    }

    /** Decodes the JSON in {@code body[0, end)}, whose large data arrays lie in {@code spans} if not null. */
    private OipBinary.Request decodeRequest(byte[] body, int end, DataSpans spans, BinaryTail tail, String model,
            String version, long defaultTimeoutMillis, long maxTimeoutMillis) {
        try (JsonParser p = open(body, end, "request")) {
            String id = null;
            List<NamedTensor> inputs = null;
            List<String> outputs = List.of();
            Map<String, Boolean> binaryOutputs = new HashMap<>();
            boolean allBinary = false;
            long timeoutMillis = defaultTimeoutMillis;
            Set<String> residency = Set.of();
            String routingKey = null;
            boolean seenId = false;
            boolean seenParameters = false;
            boolean seenOutputs = false;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken v = p.nextToken();
                switch (field) {
                    case "id" -> {
                        seenId = once(seenId, field);
                        id = optionalString(p, v, "\"id\" must be a string", "\"id\"", limits.maxIdLength());
                    }
                    case "parameters" -> {
                        seenParameters = once(seenParameters, field);
                        if (v == JsonToken.VALUE_NULL) {
                            break;
                        }
                        if (v != JsonToken.START_OBJECT) {
                            throw invalid("\"parameters\" must be an object");
                        }
                        while (p.nextToken() == JsonToken.FIELD_NAME) {
                            String key = p.currentName();
                            JsonToken pv = p.nextToken();
                            switch (key) {
                                case "timeout_ms" -> timeoutMillis = readTimeout(p, pv, maxTimeoutMillis);
                                case "residency" -> residency = readResidency(p, pv, limits);
                                case "routing_key" -> routingKey = optionalString(p, pv,
                                        "parameter \"routing_key\" must be a string", "parameter \"routing_key\"",
                                        limits.maxParameterLength());
                                case "binary_data_output" ->
                                        allBinary = readFlag(pv, "parameter \"binary_data_output\"");
                                default -> p.skipChildren();
                            }
                        }
                    }
                    case "inputs" -> {
                        if (inputs != null) {
                            throw duplicateField(field);
                        }
                        inputs = readTensors(p, v, body, end, tail, spans, Role.INPUT);
                    }
                    case "outputs" -> {
                        seenOutputs = once(seenOutputs, field);
                        outputs = readRequestedOutputs(p, v, binaryOutputs, limits);
                    }
                    default -> p.skipChildren();
                }
            }
            expectEnd(p);
            if (inputs == null) {
                throw invalid("\"inputs\" is missing");
            }
            return new OipBinary.Request(new InferenceRequest(id, model, version, inputs, outputs, timeoutMillis,
                    residency, routingKey, null), new OipBinary.BinaryOutputs(allBinary, binaryOutputs));
        } catch (JsonProcessingException e) {
            throw malformed(e);
        } catch (IOException e) {
            throw invalid("unreadable request body: " + e.getMessage());
        }
    }

    /**
     * Encodes a request body for {@code POST /v2/models/{model}[/versions/{version}]/infer};
     * the model and version belong in that path, not in the body.
     */
    public byte[] encodeRequest(InferenceRequest r) {
        return encodeRequest(r, false, false);
    }

    /**
     * The JSON of a request whose inputs, if {@code binaryInputs}, are written with
     * {@code binary_data_size} and no data, and which asks for every output as binary if
     * {@code binaryOutputs}; the caller appends the raw bytes.
     */
    byte[] encodeRequest(InferenceRequest r, boolean binaryInputs, boolean binaryOutputs) {
        ByteArrayBuilder out = new ByteArrayBuilder(sizeHint(r.inputs(), name -> binaryInputs));
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("id", r.id());
            g.writeObjectFieldStart("parameters");
            g.writeNumberField("timeout_ms", r.timeoutMillis());
            if (!r.residency().isEmpty()) {
                g.writeArrayFieldStart("residency");
                for (String region : r.residency()) {
                    g.writeString(region);
                }
                g.writeEndArray();
            }
            if (binaryOutputs) {
                g.writeBooleanField("binary_data_output", true);
            }
            g.writeEndObject();
            g.writeArrayFieldStart("inputs");
            for (NamedTensor t : r.inputs()) {
                writeTensor(g, out, t, binaryInputs);
            }
            g.writeEndArray();
            if (!r.outputs().isEmpty()) {
                g.writeArrayFieldStart("outputs");
                for (String name : r.outputs()) {
                    g.writeStartObject();
                    g.writeStringField("name", name);
                    g.writeEndObject();
                }
                g.writeEndArray();
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** Encodes a response body; {@code served_in_island_mode} is written only when true. */
    public byte[] encodeResponse(InferenceResponse r) {
        return encodeResponse(r, name -> false);
    }

    /** The JSON of a response whose outputs named in {@code binary} get {@code binary_data_size} and no data. */
    byte[] encodeResponse(InferenceResponse r, Predicate<String> binary) {
        ByteArrayBuilder out = new ByteArrayBuilder(sizeHint(r.outputs(), binary));
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            g.writeStartObject();
            writeOptional(g, "model_name", r.model());
            writeOptional(g, "model_version", r.version());
            writeOptional(g, "id", r.id());
            g.writeObjectFieldStart("parameters");
            writeOptional(g, "node", r.node());
            writeOptional(g, "region", r.region());
            g.writeNumberField("batch_rows", r.batchRows());
            if (r.islandMode()) {
                g.writeBooleanField("served_in_island_mode", true);
            }
            if (r.ensemble() != null) {
                g.writeArrayFieldStart("ensemble_members");
                for (String m : r.ensemble().answered()) {
                    g.writeString(m);
                }
                g.writeEndArray();
                g.writeArrayFieldStart("ensemble_missing");
                for (String m : r.ensemble().missing()) {
                    g.writeString(m);
                }
                g.writeEndArray();
            }
            g.writeEndObject();
            g.writeArrayFieldStart("outputs");
            for (NamedTensor t : r.outputs()) {
                writeTensor(g, out, t, binary.test(t.name()));
            }
            g.writeEndArray();
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /**
     * Decodes a successful response body; the caller checks the HTTP status first, as an
     * error body ({@code {"error": ...}}) is not a response.
     *
     * @throws InvalidInput for any malformed body
     */
    public InferenceResponse decodeResponse(byte[] body) {
        return decodeResponse(body, body == null ? 0 : body.length, null);
    }

    /** Decodes the JSON in the first {@code end} bytes of {@code body}, binary outputs from {@code tail}. */
    InferenceResponse decodeResponse(byte[] body, int end, BinaryTail tail) {
        return withSpans(body, end, tail, Role.OUTPUT, (json, jsonEnd, spans) -> decodeResponse(json, jsonEnd, spans,
                tail));
    }

    private InferenceResponse decodeResponse(byte[] body, int end, DataSpans spans, BinaryTail tail) {
        try (JsonParser p = open(body, end, "response")) {
            String model = null;
            String version = null;
            String id = null;
            List<NamedTensor> outputs = null;
            String node = null;
            String region = null;
            int batchRows = 0;
            boolean island = false;
            List<String> ensembleMembers = null;
            List<String> ensembleMissing = null;
            boolean seenModel = false;
            boolean seenVersion = false;
            boolean seenId = false;
            boolean seenParameters = false;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken v = p.nextToken();
                switch (field) {
                    case "model_name" -> {
                        seenModel = once(seenModel, field);
                        model = optionalString(p, v, "\"model_name\" must be a string");
                    }
                    case "model_version" -> {
                        seenVersion = once(seenVersion, field);
                        version = optionalString(p, v, "\"model_version\" must be a string");
                    }
                    case "id" -> {
                        seenId = once(seenId, field);
                        id = optionalString(p, v, "\"id\" must be a string");
                    }
                    case "parameters" -> {
                        seenParameters = once(seenParameters, field);
                        if (v == JsonToken.VALUE_NULL) {
                            break;
                        }
                        if (v != JsonToken.START_OBJECT) {
                            throw invalid("\"parameters\" must be an object");
                        }
                        while (p.nextToken() == JsonToken.FIELD_NAME) {
                            String key = p.currentName();
                            JsonToken pv = p.nextToken();
                            switch (key) {
                                case "node" -> node = optionalString(p, pv, "parameter \"node\" must be a string");
                                case "region" -> region = optionalString(p, pv, "parameter \"region\" must be a string");
                                case "batch_rows" -> batchRows = readBatchRows(p, pv);
                                case "served_in_island_mode" -> {
                                    if (pv != JsonToken.VALUE_TRUE && pv != JsonToken.VALUE_FALSE) {
                                        throw invalid("parameter \"served_in_island_mode\" must be true or false");
                                    }
                                    island = pv == JsonToken.VALUE_TRUE;
                                }
                                case "ensemble_members" -> ensembleMembers = readReportLines(p, pv, key);
                                case "ensemble_missing" -> ensembleMissing = readReportLines(p, pv, key);
                                default -> p.skipChildren();
                            }
                        }
                    }
                    case "outputs" -> {
                        if (outputs != null) {
                            throw duplicateField(field);
                        }
                        outputs = readTensors(p, v, body, end, tail, spans, Role.OUTPUT);
                    }
                    default -> p.skipChildren();
                }
            }
            expectEnd(p);
            if (model == null) {
                throw invalid("\"model_name\" is missing");
            }
            if (outputs == null) {
                throw invalid("\"outputs\" is missing");
            }
            EnsembleReport ensemble = ensembleMembers == null && ensembleMissing == null ? null
                    : new EnsembleReport(ensembleMembers == null ? List.of() : ensembleMembers,
                            ensembleMissing == null ? List.of() : ensembleMissing);
            return new InferenceResponse(id, model, version, outputs, node, region, batchRows, island, null,
                    ensemble);
        } catch (JsonProcessingException e) {
            throw malformed(e);
        } catch (IOException e) {
            throw invalid("unreadable response body: " + e.getMessage());
        }
    }

    /**
     * Golden vectors as a deploy supplies them: model inputs, the outputs expected for them,
     * and the absolute tolerance of floating-point outputs (null: the node's default).
     */
    public record GoldenBody(List<NamedTensor> inputs, List<NamedTensor> outputs, Double tolerance) {
        public GoldenBody {
            inputs = List.copyOf(inputs);
            outputs = List.copyOf(outputs);
        }
    }

    /**
     * Decodes golden vectors, {@code {"inputs": [tensors], "outputs": [tensors],
     * "tolerance": x}}, tensors as in inference bodies (one run: a row or a batch).
     *
     * @throws InvalidInput for any malformed body, naming the tensor and field at fault
     */
    public GoldenBody decodeGolden(byte[] body) {
        int end = body == null ? 0 : body.length;
        try (JsonParser p = open(body, end, "golden vectors")) {
            List<NamedTensor> inputs = null;
            List<NamedTensor> outputs = null;
            Double tolerance = null;
            boolean seenTolerance = false;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken v = p.nextToken();
                switch (field) {
                    case "inputs" -> {
                        if (inputs != null) {
                            throw duplicateField(field);
                        }
                        inputs = readTensors(p, v, body, end, null, null, Role.INPUT);
                    }
                    case "outputs" -> {
                        if (outputs != null) {
                            throw duplicateField(field);
                        }
                        outputs = readTensors(p, v, body, end, null, null, Role.OUTPUT);
                    }
                    case "tolerance" -> {
                        seenTolerance = once(seenTolerance, field);
                        if (v == JsonToken.VALUE_NUMBER_INT || v == JsonToken.VALUE_NUMBER_FLOAT) {
                            tolerance = p.getDoubleValue();
                            if (!(tolerance >= 0) || tolerance.isInfinite()) {
                                throw invalid("\"tolerance\" must be a finite number >= 0, not " + p.getText());
                            }
                        } else if (v != JsonToken.VALUE_NULL) {
                            throw invalid("\"tolerance\" must be a number (the largest absolute difference"
                                    + " allowed in floating-point outputs)");
                        }
                    }
                    default -> p.skipChildren();
                }
            }
            expectEnd(p);
            if (inputs == null || inputs.isEmpty()) {
                throw invalid("golden vectors need \"inputs\": the model inputs of one run");
            }
            if (outputs == null || outputs.isEmpty()) {
                throw invalid("golden vectors need \"outputs\": the outputs the model must produce for the inputs");
            }
            return new GoldenBody(inputs, outputs, tolerance);
        } catch (JsonProcessingException e) {
            throw malformed(e);
        } catch (IOException e) {
            throw invalid("unreadable golden vectors: " + e.getMessage());
        }
    }

    /** Encodes golden vectors as {@link #decodeGolden} reads them; a null tolerance is left out. */
    public byte[] encodeGolden(GoldenBody golden) {
        List<NamedTensor> all = new ArrayList<>(golden.inputs());
        all.addAll(golden.outputs());
        ByteArrayBuilder out = new ByteArrayBuilder(sizeHint(all, name -> false));
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            g.writeStartObject();
            g.writeArrayFieldStart("inputs");
            for (NamedTensor t : golden.inputs()) {
                writeTensor(g, out, t, false);
            }
            g.writeEndArray();
            g.writeArrayFieldStart("outputs");
            for (NamedTensor t : golden.outputs()) {
                writeTensor(g, out, t, false);
            }
            g.writeEndArray();
            if (golden.tolerance() != null) {
                g.writeNumberField("tolerance", golden.tolerance());
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** The error body {@code {"error": message}}. */
    public byte[] encodeError(String message) {
        ByteArrayBuilder out = new ByteArrayBuilder(64 + (message == null ? 0 : message.length()));
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("error", message == null || message.isEmpty() ? "unknown error" : message);
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** A parser positioned on the body's opening brace. */
    private static JsonParser open(byte[] body, int end, String what) throws IOException {
        if (body == null || end == 0) {
            throw invalid(what + " body is empty");
        }
        // JSON between systems is UTF-8 (RFC 8259); Jackson would also guess UTF-16/32
        // from zero bytes or a BOM, which would break the byte offsets TensorReader keeps.
        int b0 = body[0] & 0xFF;
        int b1 = end > 1 ? body[1] & 0xFF : -1;
        if (b0 == 0 || b1 == 0 || (b0 == 0xFE && b1 == 0xFF) || (b0 == 0xFF && b1 == 0xFE)) {
            throw invalid(what + " body must be UTF-8 encoded JSON");
        }
        JsonParser p = FACTORY.createParser(body, 0, end);
        JsonToken t;
        try {
            t = p.nextToken();
        } catch (IOException | RuntimeException e) {
            p.close();
            throw e;
        }
        if (t != JsonToken.START_OBJECT) {
            p.close();
            throw invalid(t == null ? what + " body is empty" : what + " body must be a JSON object");
        }
        return p;
    }

    private static void expectEnd(JsonParser p) throws IOException {
        if (p.nextToken() != null) {
            JsonLocation at = p.currentTokenLocation();
            throw invalid("malformed JSON at line " + at.getLineNr() + " column " + at.getColumnNr()
                    + ": unexpected content after the end of the object");
        }
    }

    private List<NamedTensor> readTensors(JsonParser p, JsonToken v, byte[] body, int end, BinaryTail tail,
            DataSpans spans, Role role) throws IOException {
        if (v != JsonToken.START_ARRAY) {
            throw invalid("\"" + role.list + "\" must be an array");
        }
        List<NamedTensor> tensors = new ArrayList<>(4);
        NameSet names = new NameSet();
        TensorReader.Budget budget = new TensorReader.Budget(limits, role);
        int index = 0;
        while (p.nextToken() != JsonToken.END_ARRAY) {
            if (index == limits.maxTensors()) {
                throw invalid("\"" + role.list + "\" holds more than " + limits.maxTensors() + " tensors, the limit");
            }
            NamedTensor t = new TensorReader(FACTORY, body, end, role, index++, limits, budget, tail, spans).read(p);
            if (!names.add(t.name())) {
                throw invalid("duplicate " + role.noun + " '" + TensorReader.shorten(t.name()) + "'");
            }
            tensors.add(t);
        }
        return tensors;
    }

    /** The requested output names, in order; their {@code binary_data} parameters go into {@code binary}. */
    private static List<String> readRequestedOutputs(JsonParser p, JsonToken v, Map<String, Boolean> binary,
            InputLimits limits) throws IOException {
        if (v == JsonToken.VALUE_NULL) {
            return List.of();
        }
        if (v != JsonToken.START_ARRAY) {
            throw invalid("\"outputs\" must be an array of objects with a \"name\"");
        }
        List<String> outputs = new ArrayList<>(4);
        NameSet names = new NameSet();
        int index = 0;
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (index == limits.maxRequestedOutputs()) {
                throw invalid("\"outputs\" asks for more than " + limits.maxRequestedOutputs() + " outputs, the limit");
            }
            if (t != JsonToken.START_OBJECT) {
                throw invalid("outputs[" + index + "] must be an object with a \"name\"");
            }
            String name = null;
            Boolean binaryData = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken fv = p.nextToken();
                if (field.equals("name")) {
                    if (name != null) {
                        throw invalid("outputs[" + index + "]: duplicate field \"name\"");
                    }
                    if (fv != JsonToken.VALUE_STRING || p.getTextLength() == 0) {
                        throw invalid("outputs[" + index + "]: \"name\" must be a non-empty string");
                    }
                    name = boundedText(p, "outputs[" + index + "]: \"name\"", limits.maxNameLength());
                } else if (field.equals("parameters") && fv == JsonToken.START_OBJECT) {
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        boolean flag = p.currentName().equals("binary_data");
                        JsonToken pv = p.nextToken();
                        if (flag) {
                            binaryData = readFlag(pv, "outputs[" + index + "]: parameter \"binary_data\"");
                        } else {
                            p.skipChildren();
                        }
                    }
                } else {
                    p.skipChildren();
                }
            }
            if (name == null) {
                throw invalid("outputs[" + index + "]: missing \"name\"");
            }
            if (!names.add(name)) {
                throw invalid("duplicate requested output '" + TensorReader.shorten(name) + "'");
            }
            if (binaryData != null) {
                binary.put(name, binaryData);
            }
            outputs.add(name);
            index++;
        }
        return outputs;
    }

    private static long readTimeout(JsonParser p, JsonToken v, long maxTimeoutMillis) throws IOException {
        long millis = -1;
        if (v == JsonToken.VALUE_NUMBER_INT) {
            millis = p.getNumberType() == NumberType.BIG_INTEGER
                    ? (p.getBigIntegerValue().signum() > 0 ? Long.MAX_VALUE : -1)
                    : p.getLongValue();
        } else if (v == JsonToken.VALUE_STRING) {
            millis = parseDigits(p.getText());
        }
        if (millis <= 0) {
            throw invalid("parameter \"timeout_ms\" must be a positive integer (milliseconds), got "
                    + TensorReader.describe(p, v));
        }
        return Math.min(millis, maxTimeoutMillis);
    }

    /** A string of decimal digits as a long (saturating), or -1 if it is anything else. */
    private static long parseDigits(String s) {
        if (s.isEmpty()) {
            return -1;
        }
        long v = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            v = v > (Long.MAX_VALUE - 9) / 10 ? Long.MAX_VALUE : v * 10 + (c - '0');
        }
        return v;
    }

    private static Set<String> readResidency(JsonParser p, JsonToken v, InputLimits limits) throws IOException {
        Set<String> regions = new LinkedHashSet<>();
        if (v == JsonToken.VALUE_NULL) {
            return regions;
        }
        if (v == JsonToken.VALUE_STRING) {
            // every region and its comma: the longest string that can pass
            long longest = (long) limits.maxResidencyRegions() * (limits.maxParameterLength() + 1);
            String list = boundedText(p, "parameter \"residency\"", (int) Math.min(InputLimits.MAX_STRING, longest));
            for (String region : list.split(",")) {
                addRegion(regions, region, limits);
            }
            return regions;
        }
        if (v == JsonToken.START_ARRAY) {
            JsonToken t;
            while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                if (t != JsonToken.VALUE_STRING) {
                    throw badResidency();
                }
                addRegion(regions, boundedText(p, "parameter \"residency\": a region", limits.maxParameterLength()),
                        limits);
            }
            return regions;
        }
        throw badResidency();
    }

    private static void addRegion(Set<String> regions, String region, InputLimits limits) {
        String trimmed = region.trim();
        if (trimmed.length() > limits.maxParameterLength()) {
            throw invalid("parameter \"residency\": a region is " + trimmed.length()
                    + " characters long, more than the limit of " + limits.maxParameterLength());
        }
        if (!trimmed.isEmpty() && regions.add(trimmed) && regions.size() > limits.maxResidencyRegions()) {
            throw invalid("parameter \"residency\" names more than " + limits.maxResidencyRegions()
                    + " regions, the limit");
        }
    }

    private static InvalidInput badResidency() {
        return invalid("parameter \"residency\" must be an array of region names or a comma-separated string");
    }

    /** Most lines an ensemble report of a response may hold (members that answered, or missing). */
    private static final int MAX_REPORT_LINES = 1024;

    /** An ensemble report's lines: an array of strings, bounded in count and length. */
    private static List<String> readReportLines(JsonParser p, JsonToken v, String key) throws IOException {
        if (v != JsonToken.START_ARRAY) {
            throw invalid("parameter \"" + key + "\" must be an array of strings");
        }
        List<String> lines = new ArrayList<>();
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.VALUE_STRING) {
                throw invalid("parameter \"" + key + "\" must be an array of strings");
            }
            if (lines.size() == MAX_REPORT_LINES) {
                throw invalid("parameter \"" + key + "\" has more than " + MAX_REPORT_LINES + " entries");
            }
            lines.add(boundedText(p, "an entry of parameter \"" + key + "\"", InputLimits.MAX_STRING));
        }
        return lines;
    }

    private static int readBatchRows(JsonParser p, JsonToken v) throws IOException {
        if (v != JsonToken.VALUE_NUMBER_INT || p.getNumberType() != NumberType.INT || p.getIntValue() < 0) {
            throw invalid("parameter \"batch_rows\" must be a non-negative integer, got "
                    + TensorReader.describe(p, v));
        }
        return p.getIntValue();
    }

    private static boolean readFlag(JsonToken v, String what) {
        if (v != JsonToken.VALUE_TRUE && v != JsonToken.VALUE_FALSE) {
            throw invalid(what + " must be true or false");
        }
        return v == JsonToken.VALUE_TRUE;
    }

    private static String optionalString(JsonParser p, JsonToken v, String problem) throws IOException {
        return optionalString(p, v, problem, null, InputLimits.MAX_STRING);
    }

    /** A string or null; a string longer than {@code maxLength} is refused before it becomes a String. */
    private static String optionalString(JsonParser p, JsonToken v, String problem, String what, int maxLength)
            throws IOException {
        if (v == JsonToken.VALUE_STRING) {
            return boundedText(p, what, maxLength);
        }
        if (v == JsonToken.VALUE_NULL) {
            return null;
        }
        throw invalid(problem);
    }

    /**
     * The current string token's text, refused if longer than {@code maxLength} characters.
     * A string past {@link InputLimits#MAX_STRING} is refused with the same message whether
     * the parser noticed while buffering it (which depends on the size of the buffers it
     * recycled from earlier parses on this thread) or only once it was read.
     */
    static String boundedText(JsonParser p, String what, int maxLength) throws IOException {
        int length;
        try {
            length = p.getTextLength();
        } catch (StreamConstraintsException e) {
            length = InputLimits.MAX_STRING + 1;
        }
        if (length > InputLimits.MAX_STRING) {
            throw invalid(what + " is more than " + InputLimits.MAX_STRING + " characters long, more than the limit of "
                    + maxLength);
        }
        if (length > maxLength) {
            throw invalid(what + " is " + length + " characters long, more than the limit of " + maxLength);
        }
        return p.getText();
    }

    private static boolean once(boolean seen, String field) {
        if (seen) {
            throw duplicateField(field);
        }
        return true;
    }

    private static InvalidInput duplicateField(String field) {
        return invalid("duplicate field \"" + field + "\"");
    }

    private static InvalidInput malformed(JsonProcessingException e) {
        String detail = e.getOriginalMessage();
        detail = detail == null ? e.getClass().getSimpleName()
                : JACKSON_LOCATION.matcher(detail).replaceAll("line $1 column $2");
        if (e instanceof StreamConstraintsException) {
            return invalid("JSON limit exceeded: " + JACKSON_SETTING.matcher(detail).replaceAll(""));
        }
        JsonLocation at = e.getLocation();
        if (at == null || at.getLineNr() < 1) {
            return invalid("malformed JSON: " + detail);
        }
        return invalid("malformed JSON at line " + at.getLineNr() + " column " + at.getColumnNr() + ": " + detail);
    }

    private static InvalidInput invalid(String message) {
        return new InvalidInput(message);
    }

    private static void writeOptional(JsonGenerator g, String field, String value) throws IOException {
        if (value != null) {
            g.writeStringField(field, value);
        }
    }

    /**
     * Writes name, datatype and shape before data, so that this codec's reader takes its one-pass path;
     * a {@code binary} tensor gets {@code binary_data_size} instead of data.
     * {@code g} writes into {@code out}, which FP32 data is written to directly.
     */
    private static void writeTensor(JsonGenerator g, ByteArrayBuilder out, NamedTensor named, boolean binary)
            throws IOException {
        Tensor t = named.tensor();
        g.writeStartObject();
        g.writeStringField("name", named.name());
        g.writeStringField("datatype", t.dtype().name());
        g.writeArrayFieldStart("shape");
        for (int axis = 0, rank = t.rank(); axis < rank; axis++) {
            g.writeNumber(t.dim(axis));
        }
        g.writeEndArray();
        if (binary) {
            g.writeObjectFieldStart("parameters");
            g.writeNumberField("binary_data_size", t.byteSize());
            g.writeEndObject();
            g.writeEndObject();
            return;
        }
        g.writeArrayFieldStart("data");
        switch (t.dtype()) {
            case FP32 -> writeFloats(g, out, t.floats());
            case FP64 -> {
                for (double v : t.doubles()) {
                    g.writeNumber(v);
                }
            }
            case INT8 -> {
                for (byte v : t.bytes()) {
                    g.writeNumber(v);
                }
            }
            case UINT8 -> {
                for (byte v : t.bytes()) {
                    g.writeNumber(v & 0xFF);
                }
            }
            case INT16 -> {
                for (short v : t.shorts()) {
                    g.writeNumber(v);
                }
            }
            case INT32 -> {
                for (int v : t.ints()) {
                    g.writeNumber(v);
                }
            }
            case INT64 -> {
                for (long v : t.longs()) {
                    g.writeNumber(v);
                }
            }
            case BOOL -> {
                for (boolean v : t.booleans()) {
                    g.writeBoolean(v);
                }
            }
        }
        g.writeEndArray();
        g.writeEndObject();
    }

    /**
     * The elements of an FP32 array, written as Jackson writes them (shortest text that reads
     * back exactly; NaN and infinities as strings), but formatted by {@link FloatText} into
     * the body itself rather than through a {@code String} per number: about three times
     * as fast for large outputs (BENCHMARKS.md). The array's brackets stay the generator's, which
     * writes nothing of its own between them.
     */
    private static void writeFloats(JsonGenerator g, ByteArrayBuilder out, float[] values) throws IOException {
        g.flush(); // the generator's buffered text, up to the array's "[", goes first
        int room = FloatText.ROOM + 1; // a comma and what a number may touch
        byte[] chunk = new byte[(int) Math.min(8192, (long) values.length * room)];
        int n = 0;
        for (int i = 0; i < values.length; i++) {
            if (n > chunk.length - room) {
                out.write(chunk, 0, n);
                n = 0;
            }
            if (i > 0) {
                chunk[n++] = ',';
            }
            float v = values[i];
            n = Float.isFinite(v) ? FloatText.write(v, chunk, n) : nonFinite(v, chunk, n);
        }
        out.write(chunk, 0, n);
    }

    /** {@code "NaN"}, {@code "Infinity"} or {@code "-Infinity"}, quoted as WRITE_NAN_AS_STRINGS writes them. */
    private static int nonFinite(float v, byte[] buf, int at) {
        byte[] text = Float.isNaN(v) ? QUOTED_NAN : v > 0 ? QUOTED_INFINITY : QUOTED_MINUS_INFINITY;
        System.arraycopy(text, 0, buf, at, text.length);
        return at + text.length;
    }

    /** A guess at the encoded size, so that most bodies are written into one buffer. */
    private static int sizeHint(List<NamedTensor> tensors, Predicate<String> binary) {
        long bytes = 256;
        for (NamedTensor named : tensors) {
            Tensor t = named.tensor();
            if (binary.test(named.name())) {
                bytes += 128 + named.name().length();
                continue;
            }
            int perElement = switch (t.dtype()) {
                case FP32 -> 11;
                case FP64, INT64 -> 20;
                case INT32 -> 11;
                case INT16 -> 7;
                case INT8, UINT8 -> 4;
                case BOOL -> 6;
            };
            bytes += 96 + named.name().length() + (long) t.size() * perElement;
        }
        return (int) Math.min(bytes, MAX_SIZE_HINT);
    }

    /** Names seen so far: a list scan while there are few, a hash set once there are many. */
    private static final class NameSet {
        private static final int SCAN_LIMIT = 8;
        private final List<String> few = new ArrayList<>(SCAN_LIMIT);
        private Set<String> many;

        boolean add(String name) {
            if (many != null) {
                return many.add(name);
            }
            if (few.contains(name)) {
                return false;
            }
            few.add(name);
            if (few.size() == SCAN_LIMIT) {
                many = new HashSet<>(few);
            }
            return true;
        }
    }
}
