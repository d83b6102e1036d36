package io.meshinfer.models;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a model once in ONNX Runtime (CPU) for tests, converting between meshinfer tensors
 * and ORT tensors. Deliberately independent of the production runtime so that the model
 * tests prove the models, not the runtime. Every ORT object is closed before returning.
 */
public final class OrtTestRunner {
    private OrtTestRunner() {
    }

    /** Loads {@code model}, feeds {@code inputs} and returns every output in declaration order. */
    public static List<NamedTensor> run(byte[] model, List<NamedTensor> inputs) throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(1);
            try (OrtSession session = env.createSession(model, options)) {
                Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
                try {
                    for (NamedTensor in : inputs) {
                        feeds.put(in.name(), toOrt(env, in.tensor()));
                    }
                    try (OrtSession.Result result = session.run(feeds)) {
                        List<NamedTensor> out = new ArrayList<>();
                        for (Map.Entry<String, OnnxValue> e : result) {
                            out.add(new NamedTensor(e.getKey(), fromOrt((OnnxTensor) e.getValue())));
                        }
                        return out;
                    }
                } finally {
                    feeds.values().forEach(OnnxTensor::close);
                }
            }
        }
    }

    /** The input and output declarations ORT reads from {@code model}, by name. */
    public static Map<String, TensorInfo> signature(byte[] model) throws OrtException {
        try (OrtSession session = OrtEnvironment.getEnvironment().createSession(model)) {
            Map<String, TensorInfo> out = new LinkedHashMap<>();
            for (Map.Entry<String, NodeInfo> e : session.getInputInfo().entrySet()) {
                out.put(e.getKey(), (TensorInfo) e.getValue().getInfo());
            }
            for (Map.Entry<String, NodeInfo> e : session.getOutputInfo().entrySet()) {
                out.put(e.getKey(), (TensorInfo) e.getValue().getInfo());
            }
            return out;
        }
    }

    static OnnxTensor toOrt(OrtEnvironment env, Tensor t) throws OrtException {
        long[] shape = t.shape();
        return switch (t.dtype()) {
            case FP32 -> OnnxTensor.createTensor(env, FloatBuffer.wrap(t.floats()), shape);
            case FP64 -> OnnxTensor.createTensor(env, DoubleBuffer.wrap(t.doubles()), shape);
            case INT8 -> OnnxTensor.createTensor(env, direct(t.bytes()), shape, OnnxJavaType.INT8);
            case UINT8 -> OnnxTensor.createTensor(env, direct(t.bytes()), shape, OnnxJavaType.UINT8);
            case INT16 -> OnnxTensor.createTensor(env, ShortBuffer.wrap(t.shorts()), shape, OnnxJavaType.INT16);
            case INT32 -> OnnxTensor.createTensor(env, IntBuffer.wrap(t.ints()), shape);
            case INT64 -> OnnxTensor.createTensor(env, LongBuffer.wrap(t.longs()), shape);
            case BOOL -> {
                boolean[] values = t.booleans();
                byte[] bytes = new byte[values.length];
                for (int i = 0; i < values.length; i++) {
                    bytes[i] = (byte) (values[i] ? 1 : 0);
                }
                yield OnnxTensor.createTensor(env, direct(bytes), shape, OnnxJavaType.BOOL);
            }
        };
    }

    static Tensor fromOrt(OnnxTensor t) {
        TensorInfo info = t.getInfo();
        long[] shape = info.getShape();
        int n = Math.toIntExact(info.getNumElements());
        return switch (info.type) {
            case FLOAT -> {
                float[] data = new float[n];
                t.getFloatBuffer().get(data);
                yield Tensor.ofFloats(shape, data);
            }
            case DOUBLE -> {
                double[] data = new double[n];
                t.getDoubleBuffer().get(data);
                yield Tensor.ofDoubles(shape, data);
            }
            case INT8, UINT8 -> {
                byte[] data = new byte[n];
                t.getByteBuffer().get(data);
                yield Tensor.of(info.type == OnnxJavaType.INT8 ? DType.INT8 : DType.UINT8, shape, data);
            }
            case INT16 -> {
                short[] data = new short[n];
                t.getShortBuffer().get(data);
                yield Tensor.of(DType.INT16, shape, data);
            }
            case INT32 -> {
                int[] data = new int[n];
                t.getIntBuffer().get(data);
                yield Tensor.ofInts(shape, data);
            }
            case INT64 -> {
                long[] data = new long[n];
                t.getLongBuffer().get(data);
                yield Tensor.ofLongs(shape, data);
            }
            case BOOL -> {
                ByteBuffer bytes = t.getByteBuffer();
                boolean[] data = new boolean[n];
                for (int i = 0; i < n; i++) {
                    data[i] = bytes.get(i) != 0;
                }
                yield Tensor.ofBooleans(shape, data);
            }
            default -> throw new IllegalArgumentException("no meshinfer type for ORT type " + info.type);
        };
    }

    private static ByteBuffer direct(byte[] bytes) {
        ByteBuffer b = ByteBuffer.allocateDirect(bytes.length).order(ByteOrder.nativeOrder());
        b.put(bytes).flip();
        return b;
    }
}
