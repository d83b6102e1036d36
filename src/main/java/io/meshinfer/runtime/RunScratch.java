package io.meshinfer.runtime;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;

/**
 * Reusable native-order direct buffers into which a batch's inputs are concatenated, so
 * ONNX Runtime reads them in place: no per-batch heap concatenation, no per-batch direct
 * allocation and copy inside ONNX Runtime. One per concurrent run; not thread-safe. Each
 * buffer grows to the largest batch seen (bounded by the batch and request size limits).
 */
public final class RunScratch {
    private final Map<String, ByteBuffer> buffers = new HashMap<>();

    /** A cleared buffer for {@code input} with room for {@code bytes}. */
    ByteBuffer buffer(String input, long bytes) {
        if (bytes > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a batch input of " + bytes + " bytes is too large");
        }
        ByteBuffer b = buffers.get(input);
        if (b == null || b.capacity() < bytes) {
            int capacity = (int) Math.max(bytes, b == null ? 0 : Math.min(Integer.MAX_VALUE - 8, b.capacity() * 2L));
            b = ByteBuffer.allocateDirect(capacity).order(ByteOrder.nativeOrder());
            buffers.put(input, b);
        }
        b.clear();
        return b;
    }

    /** Bytes currently held. */
    public long retainedBytes() {
        return buffers.values().stream().mapToLong(ByteBuffer::capacity).sum();
    }
}
