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
}
