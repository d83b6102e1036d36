package io.meshinfer.runtime;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.TensorInfo;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.util.List;

/** Converts between meshinfer tensors and ONNX Runtime tensors; no state. */
final class OrtTensors {
    private OrtTensors() {
    }

    /** The meshinfer type of an ONNX Runtime element type, or null when it is not served. */
    static DType dtypeOf(OnnxJavaType t) {
        return switch (t) {
            case FLOAT -> DType.FP32;
            case DOUBLE -> DType.FP64;
            case INT8 -> DType.INT8;
            case UINT8 -> DType.UINT8;
            case INT16 -> DType.INT16;
            case INT32 -> DType.INT32;
            case INT64 -> DType.INT64;
            case BOOL -> DType.BOOL;
            default -> null;
        };
    }

    /** Creates an ONNX Runtime tensor holding a copy of {@code t}; the caller closes it. */
    static OnnxTensor toOrt(OrtEnvironment env, Tensor t) throws OrtException {
        long[] shape = t.shape();
        return switch (t.dtype()) {
            case FP32 -> OnnxTensor.createTensor(env, FloatBuffer.wrap(t.floats()), shape);
            case FP64 -> OnnxTensor.createTensor(env, DoubleBuffer.wrap(t.doubles()), shape);
            case INT8 -> OnnxTensor.createTensor(env, ByteBuffer.wrap(t.bytes()), shape, OnnxJavaType.INT8);
            case UINT8 -> OnnxTensor.createTensor(env, ByteBuffer.wrap(t.bytes()), shape, OnnxJavaType.UINT8);
            case INT16 -> OnnxTensor.createTensor(env, ShortBuffer.wrap(t.shorts()), shape);
            case INT32 -> OnnxTensor.createTensor(env, IntBuffer.wrap(t.ints()), shape);
            case INT64 -> OnnxTensor.createTensor(env, LongBuffer.wrap(t.longs()), shape);
            case BOOL -> OnnxTensor.createTensor(env, boolBytes(t.booleans()), shape, OnnxJavaType.BOOL);
        };
    }

    private static ByteBuffer boolBytes(boolean[] values) {
        ByteBuffer b = ByteBuffer.allocateDirect(values.length).order(ByteOrder.nativeOrder());
        for (boolean v : values) {
            b.put((byte) (v ? 1 : 0));
        }
        b.rewind();
        return b;
    }

    /** Copies an ONNX Runtime tensor into a meshinfer tensor. */
    static Tensor fromOrt(OnnxTensor t) {
        TensorInfo info = t.getInfo();
        long[] shape = info.getShape();
        DType dtype = dtypeOf(info.type);
        if (dtype == null) {
            throw new IllegalStateException("output element type " + info.type + " is not served");
        }
        int n = Math.toIntExact(info.getNumElements());
        Object data = switch (dtype) {
            case FP32 -> {
                float[] a = new float[n];
                t.getFloatBuffer().get(a);
                yield a;
            }
            case FP64 -> {
                double[] a = new double[n];
                t.getDoubleBuffer().get(a);
                yield a;
            }
            case INT8, UINT8 -> {
                byte[] a = new byte[n];
                t.getByteBuffer().get(a);
                yield a;
            }
            case INT16 -> {
                short[] a = new short[n];
                t.getShortBuffer().get(a);
                yield a;
            }
            case INT32 -> {
                int[] a = new int[n];
                t.getIntBuffer().get(a);
                yield a;
            }
            case INT64 -> {
                long[] a = new long[n];
                t.getLongBuffer().get(a);
                yield a;
            }
            case BOOL -> {
                ByteBuffer bytes = t.getByteBuffer();
                boolean[] a = new boolean[n];
                for (int i = 0; i < n; i++) {
                    a[i] = bytes.get(i) != 0;
                }
                yield a;
            }
        };
        return Tensor.of(dtype, shape, data);
    }
    /**
     * Concatenates {@code parts} along axis 0 straight into {@code scratch}'s direct buffer
     * for {@code name} and wraps it as an ONNX Runtime tensor without copying. The tensor
     * must be closed before the scratch is used again.
     */
    static OnnxTensor concatToOrt(OrtEnvironment env, String name, List<Tensor> parts, RunScratch scratch)
            throws OrtException {
        Tensor head = parts.get(0);
        long[] shape = head.shape();
        long rows = 0;
        long elements = 0;
        for (Tensor t : parts) {
            rows += t.rank() == 0 ? 1 : t.dim(0);
            elements += t.size();
        }
        if (shape.length > 0) {
            shape[0] = rows;
        }
        ByteBuffer b = scratch.buffer(name, elements * head.dtype().byteSize());
        switch (head.dtype()) {
            case FP32 -> {
                FloatBuffer fb = b.asFloatBuffer();
                parts.forEach(t -> fb.put(t.floats()));
                fb.flip();
                return OnnxTensor.createTensor(env, fb, shape);
            }
            case FP64 -> {
                DoubleBuffer db = b.asDoubleBuffer();
                parts.forEach(t -> db.put(t.doubles()));
                db.flip();
                return OnnxTensor.createTensor(env, db, shape);
            }
            case INT16 -> {
                ShortBuffer sb = b.asShortBuffer();
                parts.forEach(t -> sb.put(t.shorts()));
                sb.flip();
                return OnnxTensor.createTensor(env, sb, shape);
            }
            case INT32 -> {
                IntBuffer ib = b.asIntBuffer();
                parts.forEach(t -> ib.put(t.ints()));
                ib.flip();
                return OnnxTensor.createTensor(env, ib, shape);
            }
            case INT64 -> {
                LongBuffer lb = b.asLongBuffer();
                parts.forEach(t -> lb.put(t.longs()));
                lb.flip();
                return OnnxTensor.createTensor(env, lb, shape);
            }
            case INT8, UINT8 -> {
                parts.forEach(t -> b.put(t.bytes()));
                b.flip();
                return OnnxTensor.createTensor(env, b, shape,
                        head.dtype() == DType.UINT8 ? OnnxJavaType.UINT8 : OnnxJavaType.INT8);
            }
            case BOOL -> {
                for (Tensor t : parts) {
                    for (boolean v : t.booleans()) {
                        b.put((byte) (v ? 1 : 0));
                    }
                }
                b.flip();
                return OnnxTensor.createTensor(env, b, shape, OnnxJavaType.BOOL);
            }
        }
        throw new IllegalStateException("unreachable: " + head.dtype());
    }

    /**
     * Splits a batched ONNX Runtime output along axis 0 into one tensor per request,
     * copying each request's rows once.
     *
     * @throws IllegalArgumentException if axis 0 is not the sum of {@code rows}
     */
    static Tensor[] splitFromOrt(OnnxTensor t, int[] rows) {
        TensorInfo info = t.getInfo();
        long[] shape = info.getShape();
        DType dtype = dtypeOf(info.type);
        if (dtype == null) {
            throw new IllegalStateException("output element type " + info.type + " is not served");
        }
        long total = 0;
        for (int r : rows) {
            total += r;
        }
        if (shape.length == 0 || shape[0] != total) {
            throw new IllegalArgumentException("shape " + java.util.Arrays.toString(shape)
                    + " does not keep the batch of " + total + " rows on axis 0");
        }
        int rowSize = total == 0 ? 0 : Math.toIntExact(info.getNumElements() / total);
        Tensor[] out = new Tensor[rows.length];
        java.nio.Buffer src = switch (dtype) {
            case FP32 -> t.getFloatBuffer();
            case FP64 -> t.getDoubleBuffer();
            case INT16 -> t.getShortBuffer();
            case INT32 -> t.getIntBuffer();
            case INT64 -> t.getLongBuffer();
            case INT8, UINT8, BOOL -> t.getByteBuffer();
        };
        for (int i = 0; i < rows.length; i++) {
            int n = rows[i] * rowSize;
            long[] part = shape.clone();
            part[0] = rows[i];
            Object data = switch (dtype) {
                case FP32 -> {
                    float[] a = new float[n];
                    ((FloatBuffer) src).get(a);
                    yield a;
                }
                case FP64 -> {
                    double[] a = new double[n];
                    ((DoubleBuffer) src).get(a);
                    yield a;
                }
                case INT16 -> {
                    short[] a = new short[n];
                    ((ShortBuffer) src).get(a);
                    yield a;
                }
                case INT32 -> {
                    int[] a = new int[n];
                    ((IntBuffer) src).get(a);
                    yield a;
                }
                case INT64 -> {
                    long[] a = new long[n];
                    ((LongBuffer) src).get(a);
                    yield a;
                }
                case INT8, UINT8 -> {
                    byte[] a = new byte[n];
                    ((ByteBuffer) src).get(a);
                    yield a;
                }
                case BOOL -> {
                    boolean[] a = new boolean[n];
                    ByteBuffer bb = (ByteBuffer) src;
                    for (int k = 0; k < n; k++) {
                        a[k] = bb.get() != 0;
                    }
                    yield a;
                }
            };
            out[i] = Tensor.of(dtype, part, data);
        }
        return out;
    }
}
