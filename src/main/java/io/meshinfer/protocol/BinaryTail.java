package io.meshinfer.protocol;

import io.meshinfer.api.InferenceException.InvalidInput;
import io.meshinfer.protocol.TensorReader.Role;
import io.meshinfer.tensor.DType;
import java.nio.ByteBuffer;

/**
 * The raw bytes after the JSON header of a body in the binary tensor data extension, handed
 * out to the tensors that declare {@code binary_data_size}, in the order they are read. Each
 * tensor's length is checked against what is left before anything is allocated for it, and
 * {@link #expectEnd()} refuses bytes that no tensor claimed, so a body whose sizes do not add
 * up is refused whichever way it is wrong.
 *
 * <p>An absent tail stands for a body sent without the {@code Inference-Header-Content-Length}
 * header: the extension is on offer, but this body cannot use it.
 *
 * <p>The bytes are read where they lie, in an array or in a buffer (a received body's
 * chunk, read-only or not), and copied once, into the tensors' arrays.
 *
 * <p>One instance serves one decode on one thread; it is not thread-safe.
 */
final class BinaryTail {
    /** The binary part alone: index 0 is its first byte, its limit its length. */
    private final ByteBuffer bytes;
    /** The JSON header's length (where the binary part starts in the body), or -1 when there is none. */
    private final int start;
    private final Role role;
    /** Bytes of the binary part handed out so far. */
    private int cursor;
    private int tensors;

    private BinaryTail(ByteBuffer bytes, int start, Role role) {
        this.bytes = bytes;
        this.start = start;
        this.role = role;
    }

    /** The bytes of {@code body} after its first {@code headerLength}, which must lie within it. */
    static BinaryTail after(byte[] body, int headerLength, Role role) {
        if (headerLength < 0 || headerLength > body.length) {
            throw new IllegalArgumentException("header length " + headerLength + " is outside the "
                    + body.length + "-byte body");
        }
        return new BinaryTail(ByteBuffer.wrap(body, headerLength, body.length - headerLength).slice(),
                headerLength, role);
    }

    /**
     * The remaining bytes of {@code binaryPart}, which followed a {@code headerLength}-byte JSON
     * header; they are not copied, so the buffer must not change while the tail is read.
     */
    static BinaryTail of(ByteBuffer binaryPart, int headerLength, Role role) {
        if (headerLength < 0) {
            throw new IllegalArgumentException("header length " + headerLength + " is negative");
        }
        return new BinaryTail(binaryPart.slice(), headerLength, role);
    }

    /** The tail of a body sent without the header length: any binary tensor in it is refused. */
    static BinaryTail absent(Role role) {
        return new BinaryTail(ByteBuffer.allocate(0), -1, role);
    }

    /** Hands out the bytes again from the start, for a decode that reads its body a second time. */
    void rewind() {
        cursor = 0;
        tensors = 0;
    }

    boolean present() {
        return start >= 0;
    }

    /**
     * The next {@code elements} values of {@code dtype}, as the primitive array that type
     * uses.
     *
     * @param label the tensor as messages name it ("input 'x'")
     * @throws InvalidInput if fewer bytes are left than the tensor needs, or a BOOL byte is
     *     neither 0 nor 1
     */
    Object take(String label, DType dtype, int elements) {
        long size = (long) elements * dtype.byteSize();
        int left = bytes.limit() - cursor;
        if (size > left) {
            throw new InvalidInput(label + ": binary_data_size is " + size + ", but only " + left
                    + " bytes are left in the body (" + bytes.limit() + " bytes follow the " + start
                    + "-byte JSON header" + (cursor == 0 ? "" : ", earlier " + role.list + " take " + cursor) + ")");
        }
        Object data = RawTensors.read(bytes, cursor, dtype, elements, label);
        cursor += (int) size;
        tensors++;
        return data;
    }

    /** Refuses bytes after the last binary tensor's data. */
    void expectEnd() {
        int left = bytes.limit() - cursor;
        if (!present() || left == 0) {
            return;
        }
        int claimed = cursor;
        throw new InvalidInput("the body has " + left + " bytes more than its " + role.list + " declare: "
                + bytes.limit() + " bytes follow the " + start + "-byte JSON header, but "
                + (tensors == 0 ? "no " + role.noun + " has binary_data_size"
                        : "the " + role.list + "' binary_data_size add up to " + claimed));
    }

    /** The refusal of a binary tensor in a body that came without the header length. */
    InvalidInput missingHeader(String label) {
        String body = role == Role.INPUT ? "request" : "response";
        return new InvalidInput(label + ": has \"binary_data_size\" but the " + body
                + " has no " + OipBinary.HEADER_LENGTH + " header; send that header with the byte length of"
                + " the JSON, followed by the raw tensor bytes, or send \"data\" as a JSON array");
    }
}
