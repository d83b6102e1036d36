package io.meshinfer.protocol;

import io.meshinfer.api.InferenceException.InvalidInput;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Tensor data in the raw form of the binary tensor data extension: little-endian, row-major,
 * no padding, each element in its type's {@link DType#byteSize()}, BOOL as one byte 0 or 1.
 * Whole arrays are copied with the bulk {@link ByteBuffer} views, not element by element.
 */
final class RawTensors {
    private RawTensors() {
    }

    /**
     * Reads {@code n} elements of {@code dtype} from {@code src} at index {@code offset} (not
     * at its position, which is left alone); the caller has checked that they are there.
     *
     * @param label the tensor as messages name it
     * @throws InvalidInput for a BOOL byte other than 0 or 1
     */
    static Object read(ByteBuffer src, int offset, DType dtype, int n, String label) {
        ByteBuffer in = src.duplicate();
        in.limit(offset + n * dtype.byteSize()).position(offset);
        in = in.slice().order(ByteOrder.LITTLE_ENDIAN);
        return switch (dtype) {
            case FP32 -> {
                float[] a = new float[n];
                in.asFloatBuffer().get(a);
                yield a;
            }
            case FP64 -> {
                double[] a = new double[n];
                in.asDoubleBuffer().get(a);
                yield a;
            }
            case INT8, UINT8 -> {
                byte[] a = new byte[n];
                in.get(a);
                yield a;
            }
            case INT16 -> {
                short[] a = new short[n];
                in.asShortBuffer().get(a);
                yield a;
            }
            case INT32 -> {
                int[] a = new int[n];
                in.asIntBuffer().get(a);
                yield a;
            }
            case INT64 -> {
                long[] a = new long[n];
                in.asLongBuffer().get(a);
                yield a;
            }
            case BOOL -> {
                boolean[] a = new boolean[n];
                for (int i = 0; i < n; i++) {
                    byte b = in.get(i);
                    if (b != 0 && b != 1) {
                        throw new InvalidInput(label + ": binary element " + i + " is " + (b & 0xFF)
                                + ", not a boolean (0 or 1)");
                    }
                    a[i] = b == 1;
                }
                yield a;
            }
        };
    }

    /** Writes {@code t}'s data to {@code dst} at {@code offset}, which has room for {@link Tensor#byteSize()}. */
    static void write(Tensor t, byte[] dst, int offset) {
        int n = t.size();
        ByteBuffer out = ByteBuffer.wrap(dst, offset, (int) t.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        switch (t.dtype()) {
            case FP32 -> out.asFloatBuffer().put(t.floats());
            case FP64 -> out.asDoubleBuffer().put(t.doubles());
            case INT8, UINT8 -> System.arraycopy(t.bytes(), 0, dst, offset, n);
            case INT16 -> out.asShortBuffer().put(t.shorts());
            case INT32 -> out.asIntBuffer().put(t.ints());
            case INT64 -> out.asLongBuffer().put(t.longs());
            case BOOL -> {
                boolean[] a = t.booleans();
                for (int i = 0; i < n; i++) {
                    dst[offset + i] = (byte) (a[i] ? 1 : 0);
                }
            }
        }
    }
}
