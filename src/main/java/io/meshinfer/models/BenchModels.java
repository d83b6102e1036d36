package io.meshinfer.models;

import static io.meshinfer.models.OnnxModelBuilder.dims;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.meshinfer.models.OnnxModelBuilder.Attribute;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Models at realistic sizes for benchmarks: an MLP, a ResNet-style CNN and a small
 * transformer encoder. Every input and output has the symbolic leading dimension "batch".
 *
 * <p>Weights are drawn from a {@link Random} with a fixed seed per model and scaled (He
 * initialisation, layer normalisation) so that activations stay finite for inputs from
 * {@link BenchModel#randomInputs}; the models are untrained. FLOPs count two per
 * multiply-accumulate in Gemm, MatMul and Conv; element-wise ops, pooling, normalisation
 * and softmax are not counted. Each call builds the model afresh (tens of milliseconds).
 */
public final class BenchModels {
    /** The benchmark models' names, in the order {@link #all()} returns them. */
    public static final List<String> NAMES = List.of("mlp", "cnn", "transformer");

    static final int MLP_INPUT = 256;
    static final int MLP_HIDDEN = 1024;
    static final int CLASSES = 10;

    static final int IMAGE_SIZE = 64;

    static final int VOCABULARY = 1000;
    static final int SEQUENCE = 64;
    static final int D_MODEL = 128;
    static final int HEADS = 2;
    static final int FEED_FORWARD = 512;
    static final int LAYERS = 2;
    static final int TEXT_CLASSES = 4;

    private BenchModels() {
    }

    /** All benchmark models, built now. */
    public static List<BenchModel> all() {
        return List.of(mlp(), cnn(), transformer());
    }

    /**
     * The benchmark model called {@code name}.
     *
     * @throws IllegalArgumentException naming the known models, for an unknown name
     */
    public static BenchModel byName(String name) {
        return switch (name == null ? "" : name) {
            case "mlp" -> mlp();
            case "cnn" -> cnn();
            case "transformer" -> transformer();
            default -> throw new IllegalArgumentException("unknown benchmark model '" + name
                    + "' (known: " + NAMES + ")");
        };
    }

    /** A model that returns its inputs: the serving overhead alone, with the bench model's input shapes. */
    public static byte[] identityOf(BenchModel bm) {
        OnnxModelBuilder b = OnnxModelBuilder.create("identity");
        for (Input in : bm.inputs()) {
            Object[] dims = new Object[in.rowShape().size() + 1];
            dims[0] = "batch";
            for (int i = 0; i < in.rowShape().size(); i++) {
                dims[i + 1] = in.rowShape().get(i);
            }
            b.input(in.name(), in.dtype(), OnnxModelBuilder.dims(dims));
            b.output(in.name() + "_out", in.dtype(), OnnxModelBuilder.dims(dims));
            b.node("Identity", List.of(in.name()), in.name() + "_out");
        }
        return b.toBytes();
    }

    /** An FP32 MLP: features [batch, 256] → 1024 → 1024 → logits [batch, 10], Gemm + Relu. */
    public static BenchModel mlp() {
        Net net = new Net("mlp", 1001L);
        net.builder
                .input("features", DType.FP32, dims("batch", MLP_INPUT))
                .output("logits", DType.FP32, dims("batch", CLASSES));
        String x = net.relu(net.gemm("features", MLP_INPUT, MLP_HIDDEN, "fc1"));
        x = net.relu(net.gemm(x, MLP_HIDDEN, MLP_HIDDEN, "fc2"));
        net.gemmTo(x, MLP_HIDDEN, CLASSES, "fc3", "logits");
        return net.finish("FP32 MLP 256→1024→1024→10 (Gemm + Relu)",
                List.of(Input.floats("features", MLP_INPUT)),
                List.of(new Output("logits", DType.FP32, List.of((long) CLASSES))));
    }

    /**
     * A ResNet-style FP32 CNN: image [batch, 3, 64, 64] → 3×3 stem conv (32 channels) →
     * residual block → stride-2 conv (64) → residual block → stride-2 conv (128) → residual
     * block → global average pool → Gemm → logits [batch, 10]. About 0.54 GFLOP per sample.
     */
    public static BenchModel cnn() {
        Net net = new Net("cnn", 1002L);
        net.builder
                .input("image", DType.FP32, dims("batch", 3, IMAGE_SIZE, IMAGE_SIZE))
                .output("logits", DType.FP32, dims("batch", CLASSES));
        String x = net.relu(net.conv("image", 3, 32, 1, IMAGE_SIZE, 1.0));
        x = net.residualBlock(x, 32, IMAGE_SIZE);
        x = net.relu(net.conv(x, 32, 64, 2, IMAGE_SIZE / 2, 1.0));
        x = net.residualBlock(x, 64, IMAGE_SIZE / 2);
        x = net.relu(net.conv(x, 64, 128, 2, IMAGE_SIZE / 4, 1.0));
        x = net.residualBlock(x, 128, IMAGE_SIZE / 4);
        String pooled = net.op("GlobalAveragePool", List.of(x));
        String flat = net.op("Flatten", List.of(pooled), Attribute.of("axis", 1));
        net.gemmTo(flat, 128, CLASSES, "head", "logits");
        return net.finish("ResNet-style FP32 CNN on 3×64×64 images: stem conv, three residual blocks "
                        + "(32/64/128 channels), global average pool, Gemm to 10 classes",
                List.of(Input.floats("image", 3, IMAGE_SIZE, IMAGE_SIZE)),
                List.of(new Output("logits", DType.FP32, List.of((long) CLASSES))));
    }

    /**
     * A small pre-norm transformer encoder: tokens INT64 [batch, 64] (ids in [0, 1000)) →
     * token + positional embedding (d_model 128) → two layers of 2-head self-attention and
     * a 512-wide feed-forward block, each with LayerNormalization and a residual → final
     * LayerNormalization → mean over positions → Gemm → logits [batch, 4].
     */
    public static BenchModel transformer() {
        Net net = new Net("transformer", 1003L);
        int headDim = D_MODEL / HEADS;
        net.builder
                .input("tokens", DType.INT64, dims("batch", SEQUENCE))
                .output("logits", DType.FP32, dims("batch", TEXT_CLASSES))
                .initializer("token_embedding", net.gaussian(VOCABULARY * D_MODEL, 0.5), VOCABULARY, D_MODEL)
                .initializer("position_embedding", net.gaussian(SEQUENCE * D_MODEL, 0.1), SEQUENCE, D_MODEL)
                .initializer("split_heads_shape", new long[] {0, -1, HEADS, headDim}, 4)
                .initializer("merge_heads_shape", new long[] {0, -1, D_MODEL}, 3)
                .initializer("attention_scale", new float[] {(float) (1.0 / Math.sqrt(headDim))});
        String x = net.op("Gather", List.of("token_embedding", "tokens"), Attribute.of("axis", 0));
        x = net.op("Add", List.of(x, "position_embedding"));
        for (int layer = 0; layer < LAYERS; layer++) {
            String p = "layer" + layer + ".";
            String h = net.layerNorm(x, D_MODEL, p + "ln1");
            String q = net.splitHeads(net.linear(h, SEQUENCE, D_MODEL, D_MODEL, p + "q"), 0, 2, 1, 3);
            String k = net.splitHeads(net.linear(h, SEQUENCE, D_MODEL, D_MODEL, p + "k"), 0, 2, 3, 1);
            String v = net.splitHeads(net.linear(h, SEQUENCE, D_MODEL, D_MODEL, p + "v"), 0, 2, 1, 3);
            String scores = net.op("Mul", List.of(net.op("MatMul", List.of(q, k)), "attention_scale"));
            String weights = net.op("Softmax", List.of(scores), Attribute.of("axis", -1));
            String context = net.op("MatMul", List.of(weights, v));
            net.flops += 2L * 2 * HEADS * SEQUENCE * SEQUENCE * headDim;
            String merged = net.op("Reshape", List.of(
                    net.op("Transpose", List.of(context), Attribute.ints("perm", 0, 2, 1, 3)),
                    "merge_heads_shape"));
            x = net.op("Add", List.of(x, net.linear(merged, SEQUENCE, D_MODEL, D_MODEL, p + "attn_out")));
            h = net.layerNorm(x, D_MODEL, p + "ln2");
            String f = net.relu(net.linear(h, SEQUENCE, D_MODEL, FEED_FORWARD, p + "ff1"));
            x = net.op("Add", List.of(x, net.linear(f, SEQUENCE, FEED_FORWARD, D_MODEL, p + "ff2")));
        }
        x = net.layerNorm(x, D_MODEL, "final_ln");
        String pooled = net.op("ReduceMean", List.of(x), Attribute.ints("axes", 1), Attribute.of("keepdims", 0));
        net.gemmTo(pooled, D_MODEL, TEXT_CLASSES, "head", "logits");
        return net.finish("Transformer encoder on INT64 token ids [64]: vocabulary 1000, d_model 128, "
                        + "2 heads, 2 layers, feed-forward 512, mean-pool, Gemm to 4 classes",
                List.of(new Input("tokens", DType.INT64, List.of((long) SEQUENCE), VOCABULARY)),
                List.of(new Output("logits", DType.FP32, List.of((long) TEXT_CLASSES))));
    }

    /**
     * One benchmark model: its ONNX bytes and what it costs. {@code flopsPerSample} counts
     * two per multiply-accumulate of one batch row; {@code parameterBytes} is the size of
     * all initializers. Immutable: {@link #onnx()} hands out a copy.
     */
    public static final class BenchModel {
        private final String name;
        private final String description;
        private final byte[] onnx;
        private final long flopsPerSample;
        private final long parameterBytes;
        private final List<Input> inputs;
        private final List<Output> outputs;

        BenchModel(String name, String description, byte[] onnx, long flopsPerSample,
                long parameterBytes, List<Input> inputs, List<Output> outputs) {
            this.name = name;
            this.description = description;
            this.onnx = onnx;
            this.flopsPerSample = flopsPerSample;
            this.parameterBytes = parameterBytes;
            this.inputs = List.copyOf(inputs);
            this.outputs = List.copyOf(outputs);
        }

        public String name() {
            return name;
        }

        public String description() {
            return description;
        }

        /** A copy of the serialized model. */
        public byte[] onnx() {
            return onnx.clone();
        }

        public long flopsPerSample() {
            return flopsPerSample;
        }

        public long parameterBytes() {
            return parameterBytes;
        }

        public List<Input> inputs() {
            return inputs;
        }

        public List<Output> outputs() {
            return outputs;
        }

        /**
         * A valid request body for {@code batchSize} rows: FP32 inputs standard normal,
         * integer inputs uniform in {@code [0, valueBound)}. The same seed gives the same
         * tensors.
         */
        public List<NamedTensor> randomInputs(int batchSize, long seed) {
            if (batchSize < 1) {
                throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
            }
            Random random = new Random(seed);
            List<NamedTensor> out = new ArrayList<>(inputs.size());
            for (Input in : inputs) {
                long[] shape = in.shape(batchSize);
                int n = Math.toIntExact(Tensor.elementCount(shape));
                Tensor t = switch (in.dtype()) {
                    case FP32 -> {
                        float[] data = new float[n];
                        for (int i = 0; i < n; i++) {
                            data[i] = (float) random.nextGaussian();
                        }
                        yield Tensor.ofFloats(shape, data);
                    }
                    case INT64 -> {
                        long[] data = new long[n];
                        for (int i = 0; i < n; i++) {
                            data[i] = random.nextInt(Math.toIntExact(in.valueBound()));
                        }
                        yield Tensor.ofLongs(shape, data);
                    }
                    default -> throw new IllegalStateException("no generator for " + in.dtype());
                };
                out.add(new NamedTensor(in.name(), t));
            }
            return out;
        }

        @Override
        public String toString() {
            return name + " (" + flopsPerSample + " FLOP/sample, " + parameterBytes + " parameter bytes)";
        }
    }

    /**
     * A model input: name, type, shape of one row (the leading "batch" dimension left out)
     * and, for integer inputs, the exclusive upper bound of valid values (0 for FP32).
     */
    public record Input(String name, DType dtype, List<Long> rowShape, long valueBound) {
        public Input {
            rowShape = List.copyOf(rowShape);
        }

        static Input floats(String name, long... rowShape) {
            return new Input(name, DType.FP32, Arrays.stream(rowShape).boxed().toList(), 0);
        }

        /** The full shape for {@code batchSize} rows. */
        public long[] shape(int batchSize) {
            long[] shape = new long[rowShape.size() + 1];
            shape[0] = batchSize;
            for (int i = 0; i < rowShape.size(); i++) {
                shape[i + 1] = rowShape.get(i);
            }
            return shape;
        }
    }

    /** A model output: name, type and shape of one row (the "batch" dimension left out). */
    public record Output(String name, DType dtype, List<Long> rowShape) {
        public Output {
            rowShape = List.copyOf(rowShape);
        }
    }

    /** Builds one network: a model builder, its weight generator and its FLOP count. */
    private static final class Net {
        final String name;
        final OnnxModelBuilder builder;
        final Random random;
        long flops;
        private int counter;

        Net(String name, long seed) {
            this.name = name;
            this.builder = OnnxModelBuilder.create(name)
                    .docString("meshinfer benchmark model '" + name + "' (seeded, untrained)");
            this.random = new Random(seed);
        }

        BenchModel finish(String description, List<Input> inputs, List<Output> outputs) {
            ModelProto model = builder.build();
            long parameterBytes = 0;
            for (TensorProto t : model.getGraph().getInitializerList()) {
                parameterBytes += t.getRawData().size();
            }
            return new BenchModel(name, description, model.toByteArray(), flops, parameterBytes,
                    inputs, outputs);
        }

        float[] gaussian(int n, double scale) {
            float[] out = new float[n];
            for (int i = 0; i < n; i++) {
                out[i] = (float) (random.nextGaussian() * scale);
            }
            return out;
        }

        String op(String opType, List<String> inputs, Attribute... attributes) {
            String out = "t" + counter++ + "_" + opType;
            builder.node(opType, inputs, out, attributes);
            return out;
        }

        String relu(String x) {
            return op("Relu", List.of(x));
        }

        String gemm(String x, int in, int out, String prefix) {
            String y = "t" + counter++ + "_Gemm";
            gemmTo(x, in, out, prefix, y);
            return y;
        }

        void gemmTo(String x, int in, int out, String prefix, String output) {
            builder.initializer(prefix + ".weight", gaussian(in * out, Math.sqrt(2.0 / in)), in, out)
                    .initializer(prefix + ".bias", gaussian(out, 0.01), out)
                    .node("Gemm", List.of(x, prefix + ".weight", prefix + ".bias"), output);
            flops += 2L * in * out;
        }

        /** MatMul + Add over the last axis of a [batch, rows, in] tensor. */
        String linear(String x, int rows, int in, int out, String prefix) {
            builder.initializer(prefix + ".weight", gaussian(in * out, Math.sqrt(2.0 / in)), in, out)
                    .initializer(prefix + ".bias", gaussian(out, 0.01), out);
            flops += 2L * rows * in * out;
            return op("Add", List.of(op("MatMul", List.of(x, prefix + ".weight")), prefix + ".bias"));
        }

        /** [batch, seq, d_model] → [batch, heads, ., .] in the given axis order. */
        String splitHeads(String x, long... perm) {
            String split = op("Reshape", List.of(x, "split_heads_shape"));
            return op("Transpose", List.of(split), Attribute.ints("perm", perm));
        }

        String layerNorm(String x, int width, String prefix) {
            float[] ones = new float[width];
            Arrays.fill(ones, 1f);
            builder.initializer(prefix + ".scale", ones, width)
                    .initializer(prefix + ".bias", new float[width], width);
            return op("LayerNormalization", List.of(x, prefix + ".scale", prefix + ".bias"),
                    Attribute.of("axis", -1), Attribute.of("epsilon", 1e-5f));
        }

        /** A 3×3 convolution with padding 1; {@code outSize} is the output's height and width. */
        String conv(String x, int in, int out, int stride, int outSize, double gain) {
            String w = "conv" + counter + ".weight";
            String b = "conv" + counter + ".bias";
            builder.initializer(w, gaussian(out * in * 9, gain * Math.sqrt(2.0 / (in * 9))), out, in, 3, 3)
                    .initializer(b, gaussian(out, 0.01), out);
            flops += 2L * outSize * outSize * out * in * 9;
            return op("Conv", List.of(x, w, b),
                    Attribute.ints("kernel_shape", 3, 3),
                    Attribute.ints("pads", 1, 1, 1, 1),
                    Attribute.ints("strides", stride, stride));
        }

        /** relu(x + conv(relu(conv(x)))); the second conv is scaled down so the sum stays tame. */
        String residualBlock(String x, int channels, int size) {
            String h = relu(conv(x, channels, channels, 1, size, 1.0));
            h = conv(h, channels, channels, 1, size, 0.5);
            return relu(op("Add", List.of(x, h)));
        }
    }
}
