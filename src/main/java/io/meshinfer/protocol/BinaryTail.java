package io.meshinfer.protocol;

import io.meshinfer.api.InferenceException.InvalidInput;
import io.meshinfer.protocol.TensorReader.Role;
import io.meshinfer.tensor.DType;

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
 * <p>One instance serves one decode on one thread; it is not thread-safe.
 */
final class BinaryTail {
    private final byte[] body;
    /** Where the binary part starts (the JSON header's length), or -1 when there is none. */
    private final int start;
    private final Role role;
    private int cursor;
    private int tensors;

    private BinaryTail(byte[] body, int start, Role role) {
        this.body = body;
        this.start = start;
        this.role = role;
        this.cursor = start;
    }

    /** The bytes of {@code body} after its first {@code headerLength}, which must lie within it. */
    static BinaryTail after(byte[] body, int headerLength, Role role) {
        if (headerLength < 0 || headerLength > body.length) {
            throw new IllegalArgumentException("header length " + headerLength + " is outside the "
                    + body.length + "-byte body");
        }
        return new BinaryTail(body, headerLength, role);
    }

    /** The tail of a body sent without the header length: any binary tensor in it is refused. */
    static BinaryTail absent(Role role) {
        return new BinaryTail(new byte[0], -1, role);
    }

    /** Hands out the bytes again from the start, for a decode that reads its body a second time. */
    void rewind() {
        cursor = start;
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
        int left = body.length - cursor;
        if (size > left) {
            int taken = cursor - start;
            throw new InvalidInput(label + ": binary_data_size is " + size + ", but only " + left
                    + " bytes are left in the body (" + (body.length - start) + " bytes follow the " + start
                    + "-byte JSON header" + (taken == 0 ? "" : ", earlier " + role.list + " take " + taken) + ")");
        }
        Object data = RawTensors.read(body, cursor, dtype, elements, label);
        cursor += (int) size;
        tensors++;
        return data;
    }

    /** Refuses bytes after the last binary tensor's data. */
    void expectEnd() {
        int left = body.length - cursor;
        if (!present() || left == 0) {
            return;
        }
        int claimed = cursor - start;
        throw new InvalidInput("the body has " + left + " bytes more than its " + role.list + " declare: "
                + (body.length - start) + " bytes follow the " + start + "-byte JSON header, but "
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
