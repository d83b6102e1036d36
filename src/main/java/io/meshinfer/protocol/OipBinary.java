package io.meshinfer.protocol;

import io.meshinfer.api.InferenceException;
import io.meshinfer.api.InferenceException.InvalidInput;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.protocol.TensorReader.Role;
import io.meshinfer.tensor.NamedTensor;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

/**
 * The binary tensor data extension of the Open Inference Protocol, as Triton and KServe
 * clients use it: a body is a JSON header, whose byte length the HTTP header
 * {@value #HEADER_LENGTH} gives, followed by the raw data (little-endian, row-major,
 * BOOL one byte 0 or 1) of every tensor whose JSON has
 * {@code "parameters": {"binary_data_size": n}} and no {@code data}, in the order of those
 * tensors. Tensors in one body may mix JSON {@code data} and binary.
 *
 * <p>Requests sent without the header are plain JSON and decode exactly as {@link OipJson}
 * decodes them, except that a binary tensor in them is refused with a message naming the
 * missing header. Either way the caller learns which outputs to return as binary, from the
 * request's {@code binary_data_output} parameter and each requested output's
 * {@code binary_data} parameter, which overrides it.
 *
 * <p>Guarantees, on top of {@link OipJson}'s (same element limit, same error messages for
 * the JSON): a binary tensor's {@code binary_data_size} must equal its element count times
 * its datatype's size, and the sizes must account for every byte after the JSON header,
 * no more and no fewer. A tensor's size and the presence of its bytes are checked before
 * its array is allocated, so no allocation exceeds the body; bytes no tensor claims are
 * refused once the JSON has been read. Every malformed body or header value is refused
 * with an {@link InvalidInput}. Instances are immutable and thread-safe.
 */
public final class OipBinary {
    /** The HTTP header giving the byte length of the JSON at the start of the body. */
    public static final String HEADER_LENGTH = "Inference-Header-Content-Length";
    /** Largest body this encoder builds: one Java array. */
    private static final long MAX_BODY = Integer.MAX_VALUE - 8;

    private final OipJson json;

    /** A codec that shares {@code json}'s limits. */
    public OipBinary(OipJson json) {
        if (json == null) {
            throw new IllegalArgumentException("json codec is required");
        }
        this.json = json;
    }

    /** A decoded inference request and the outputs its sender wants back as binary data. */
    public record Request(InferenceRequest request, BinaryOutputs binaryOutputs) {
        public Request {
            if (request == null || binaryOutputs == null) {
                throw new IllegalArgumentException("request and binaryOutputs are required");
            }
        }
    }

    /**
     * Which outputs to return as binary data: all of them if {@code all} (the request's
     * {@code binary_data_output}), except where {@code overrides} (each requested output's
     * {@code binary_data}) says otherwise.
     */
    public record BinaryOutputs(boolean all, Map<String, Boolean> overrides) {
        /** Every output as JSON. */
        public static final BinaryOutputs NONE = new BinaryOutputs(false, Map.of());
        /** Every output as binary data. */
        public static final BinaryOutputs ALL = new BinaryOutputs(true, Map.of());

        public BinaryOutputs {
            overrides = overrides == null ? Map.of() : Map.copyOf(overrides);
        }

        public boolean isBinary(String output) {
            return overrides.getOrDefault(output, all);
        }
    }

    /**
     * An encoded body: the JSON is its first {@code jsonLength} bytes. If {@code binary}, at
     * least one tensor is sent as binary data (possibly of zero bytes), and the body must
     * travel with {@value OipBinary#HEADER_LENGTH}{@code : jsonLength} and as
     * {@code application/octet-stream}; otherwise it is plain JSON, {@code jsonLength} is
     * its whole length, and it goes as {@code application/json} without that header.
     */
    public record Body(byte[] bytes, int jsonLength, boolean binary) {
        public Body {
            if (bytes == null || jsonLength < 0 || jsonLength > bytes.length
                    || (!binary && jsonLength != bytes.length)) {
                throw new IllegalArgumentException("inconsistent body: jsonLength " + jsonLength + ", binary "
                        + binary);
            }
        }
    }

    /**
     * Decodes the body of {@code POST /v2/models/{model}[/versions/{version}]/infer}.
     *
     * @param headerLength the value of the {@value #HEADER_LENGTH} header as received, or
     *     null if the request has none (the body is then plain JSON)
     * @param model the model named in the path
     * @param version the version named in the path, or null
     * @param defaultTimeoutMillis the budget when the body sets no {@code timeout_ms}
     * @param maxTimeoutMillis the most a body's {@code timeout_ms} is granted
     * @throws InvalidInput for any malformed body or header value, with a message the sender
     *     can act on
     */
    public Request decodeRequest(byte[] body, String headerLength, String model, String version,
            long defaultTimeoutMillis, long maxTimeoutMillis) {
        byte[] b = body == null ? new byte[0] : body;
        if (headerLength == null) {
            return json.decodeRequest(b, b.length, BinaryTail.absent(Role.INPUT), model, version,
                    defaultTimeoutMillis, maxTimeoutMillis);
        }
        int end = parseHeaderLength(headerLength, b.length);
        return decodeRequest(b, BinaryTail.after(b, end, Role.INPUT), end, model, version, defaultTimeoutMillis,
                maxTimeoutMillis);
    }

    /**
     * Decodes a request body held in a buffer, as a server receives it: a binary tensor's
     * bytes are read from the buffer into the tensor's array, not first copied out with
     * the rest of the body. Only the JSON header is copied (the whole body when
     * {@code headerLength} is null: plain JSON). The buffer's remaining bytes are the body;
     * its position is left alone, and it must not change during the call. Otherwise as
     * {@link #decodeRequest(byte[], String, String, String, long, long)}.
     */
    public Request decodeRequest(ByteBuffer body, String headerLength, String model, String version,
            long defaultTimeoutMillis, long maxTimeoutMillis) {
        ByteBuffer in = body.duplicate();
        if (headerLength == null) {
            byte[] b = new byte[in.remaining()];
            in.get(b);
            return json.decodeRequest(b, b.length, BinaryTail.absent(Role.INPUT), model, version,
                    defaultTimeoutMillis, maxTimeoutMillis);
        }
        int end = parseHeaderLength(headerLength, in.remaining());
        byte[] header = new byte[end];
        in.get(header);
        return decodeRequest(header, BinaryTail.of(in, end, Role.INPUT), end, model, version, defaultTimeoutMillis,
                maxTimeoutMillis);
    }

    /**
     * The request whose JSON is {@code header}'s first {@code end} bytes and whose binary data
     * {@code tail} holds.
     */
    private Request decodeRequest(byte[] header, BinaryTail tail, int end, String model, String version,
            long defaultTimeoutMillis, long maxTimeoutMillis) {
        Request request = json.decodeRequest(header, end, tail, model, version, defaultTimeoutMillis,
                maxTimeoutMillis);
        tail.expectEnd();
        return request;
    }

    /**
     * Encodes a response, with the outputs {@code binaryOutputs} chooses as binary data.
     *
     * @throws InferenceException.Internal if the outputs do not fit in one body
     */
    public Body encodeResponse(InferenceResponse r, BinaryOutputs binaryOutputs) {
        boolean any = false;
        long bytes = 0;
        for (NamedTensor t : r.outputs()) {
            if (binaryOutputs.isBinary(t.name())) {
                any = true;
                bytes += t.tensor().byteSize();
            }
        }
        if (!any) {
            byte[] plain = json.encodeResponse(r);
            return new Body(plain, plain.length, false);
        }
        return withTensors(json.encodeResponse(r, binaryOutputs::isBinary), bytes, r.outputs(), binaryOutputs);
    }

    /**
     * Encodes a request, for clients: every input as binary data if {@code binaryInputs},
     * and every output asked for as binary data if {@code binaryOutputs}.
     */
    public Body encodeRequest(InferenceRequest r, boolean binaryInputs, boolean binaryOutputs) {
        byte[] header = json.encodeRequest(r, binaryInputs, binaryOutputs);
        if (!binaryInputs || r.inputs().isEmpty()) {
            return new Body(header, header.length, false);
        }
        long bytes = 0;
        for (NamedTensor t : r.inputs()) {
            bytes += t.tensor().byteSize();
        }
        return withTensors(header, bytes, r.inputs(), BinaryOutputs.ALL);
    }

    /**
     * Decodes a successful response body, for clients; the caller checks the HTTP status
     * first, as an error body is not a response.
     *
     * @param headerLength the value of the response's {@value #HEADER_LENGTH} header, or null
     * @throws InvalidInput for any malformed body or header value
     */
    public InferenceResponse decodeResponse(byte[] body, String headerLength) {
        byte[] b = body == null ? new byte[0] : body;
        if (headerLength == null) {
            return json.decodeResponse(b, b.length, BinaryTail.absent(Role.OUTPUT));
        }
        int end = parseHeaderLength(headerLength, b.length);
        BinaryTail tail = BinaryTail.after(b, end, Role.OUTPUT);
        InferenceResponse response = json.decodeResponse(b, end, tail);
        tail.expectEnd();
        return response;
    }

    /** {@code header} followed by the raw data of the tensors {@code binary} picks, in order. */
    private static Body withTensors(byte[] header, long binaryBytes, List<NamedTensor> tensors,
            BinaryOutputs binary) {
        if (header.length + binaryBytes > MAX_BODY) {
            throw new InferenceException.Internal("the tensors take " + binaryBytes + " bytes, more than one body"
                    + " can hold");
        }
        byte[] out = new byte[(int) (header.length + binaryBytes)];
        System.arraycopy(header, 0, out, 0, header.length);
        int at = header.length;
        for (NamedTensor t : tensors) {
            if (binary.isBinary(t.name())) {
                RawTensors.write(t.tensor(), out, at);
                at += (int) t.tensor().byteSize();
            }
        }
        return new Body(out, header.length, true);
    }

    /** The JSON length a header value gives, checked against the body. */
    private static int parseHeaderLength(String value, int bodyLength) {
        String v = value.trim();
        if (v.isEmpty() || !v.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new InvalidInput("header " + HEADER_LENGTH + " must be the byte length of the JSON at the"
                    + " start of the body (a whole number), got '" + TensorReader.shorten(v) + "'");
        }
        BigInteger n = new BigInteger(v);
        if (n.compareTo(BigInteger.valueOf(bodyLength)) > 0) {
            throw new InvalidInput("header " + HEADER_LENGTH + " is " + TensorReader.shorten(v)
                    + ", more than the " + bodyLength + "-byte body");
        }
        if (n.signum() == 0) {
            throw new InvalidInput("header " + HEADER_LENGTH + " is 0, but the JSON at the start of the body"
                    + " cannot be empty");
        }
        return n.intValue();
    }
}
