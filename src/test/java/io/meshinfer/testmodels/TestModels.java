package io.meshinfer.testmodels;

import static io.meshinfer.models.OnnxModelBuilder.dims;

import io.meshinfer.models.OnnxModelBuilder;
import io.meshinfer.models.OnnxModelBuilder.Attribute;
import io.meshinfer.tensor.DType;
import java.util.Arrays;
import java.util.List;

/**
 * Small ONNX models for tests, built in code with fixed weights (opset 17). Each method
 * documents its inputs and outputs as {@code name TYPE [shape]}; "batch", "height" and
 * "width" are symbolic dimensions, numbers are fixed. Every call returns fresh bytes, and
 * the same bytes each time. {@code TestModelsTest} runs each model once in ONNX Runtime.
 */
public final class TestModels {
    /** Names of the inputs of {@link #allTypes()}, in declaration order. */
    public static final List<String> ALL_TYPES_INPUTS = List.of("fp64", "int32", "uint8", "bool", "int64");

    /** Layer 1 of {@link #mlp()}: weight [4, 5] (row-major) and bias [5]. */
    private static final float[] MLP_W1 = {
        0.5f, -0.25f, 1.0f, 0.0f, 0.75f,
        -0.5f, 0.25f, 0.5f, 1.0f, -1.0f,
        0.25f, 0.5f, -0.75f, 0.5f, 0.25f,
        1.0f, -1.0f, 0.25f, -0.5f, 0.5f,
    };
    private static final float[] MLP_B1 = {0.1f, -0.2f, 0.0f, 0.3f, -0.1f};
    /** Layer 2 of {@link #mlp()}: weight [5, 3] (row-major) and bias [3]. */
    private static final float[] MLP_W2 = {
        1.0f, -0.5f, 0.25f,
        0.5f, 0.75f, -1.0f,
        -0.25f, 1.0f, 0.5f,
        0.75f, -0.25f, 1.0f,
        -1.0f, 0.5f, 0.25f,
    };
    private static final float[] MLP_B2 = {0.05f, -0.05f, 0.1f};

    private TestModels() {
    }

    /**
     * {@code x FP32 [batch, 4]} → Gemm(4→5) → Relu → Gemm(5→3) → {@code y FP32 [batch, 3]}.
     * {@link #mlpReference} computes the same in plain Java.
     */
    public static byte[] mlp() {
        return OnnxModelBuilder.create("test_mlp")
                .input("x", DType.FP32, dims("batch", 4))
                .output("y", DType.FP32, dims("batch", 3))
                .initializer("w1", MLP_W1, 4, 5)
                .initializer("b1", MLP_B1, 5)
                .initializer("w2", MLP_W2, 5, 3)
                .initializer("b2", MLP_B2, 3)
                .node("Gemm", List.of("x", "w1", "b1"), "h")
                .node("Relu", List.of("h"), "r")
                .node("Gemm", List.of("r", "w2", "b2"), "y")
                .toBytes();
    }

    /** What {@link #mlp()} computes for {@code rows} rows of 4 (row-major), as rows of 3. */
    public static float[] mlpReference(float[] rowMajorX, int rows) {
        if (rowMajorX.length != rows * 4) {
            throw new IllegalArgumentException("expected " + rows * 4 + " values, got " + rowMajorX.length);
        }
        float[] y = new float[rows * 3];
        float[] hidden = new float[5];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < 5; j++) {
                float sum = MLP_B1[j];
                for (int i = 0; i < 4; i++) {
                    sum += rowMajorX[r * 4 + i] * MLP_W1[i * 5 + j];
                }
                hidden[j] = Math.max(0f, sum);
            }
            for (int k = 0; k < 3; k++) {
                float sum = MLP_B2[k];
                for (int j = 0; j < 5; j++) {
                    sum += hidden[j] * MLP_W2[j * 3 + k];
                }
                y[r * 3 + k] = sum;
            }
        }
        return y;
    }

    /**
     * {@code tokens INT64 [batch, 6]} → Gather rows of a [16, 4] table → ReduceMean over the
     * 6 tokens → {@code embedding FP32 [batch, 4]}. Table row {@code t} is
     * {@code [t, t/2, -t, 1]}, so the embedding of a row is the mean of those.
     *
     * <p>Valid token ids are -16..15 (negative ids count from the end, as Gather allows). Any
     * other id makes ONNX Runtime fail the whole run ("indices element out of data bounds"):
     * one such row in a batch is a "poisoned request" that fails every request batched with it.
     */
    public static byte[] int64Embedding() {
        float[] table = new float[16 * 4];
        for (int t = 0; t < 16; t++) {
            table[t * 4] = t;
            table[t * 4 + 1] = t / 2f;
            table[t * 4 + 2] = -t;
            table[t * 4 + 3] = 1f;
        }
        return OnnxModelBuilder.create("test_int64_embedding")
                .input("tokens", DType.INT64, dims("batch", 6))
                .output("embedding", DType.FP32, dims("batch", 4))
                .initializer("table", table, 16, 4)
                .node("Gather", List.of("table", "tokens"), "gathered", Attribute.of("axis", 0))
                .node("ReduceMean", List.of("gathered"), "embedding",
                        Attribute.ints("axes", 1), Attribute.of("keepdims", 0))
                .toBytes();
    }

    /**
     * {@code a FP32 [batch, 3]}, {@code b FP32 [batch, 3]} →
     * {@code sum FP32 [batch, 3]} = a + b and {@code product FP32 [batch, 3]} = a * b.
     */
    public static byte[] twoInTwoOut() {
        return OnnxModelBuilder.create("test_two_in_two_out")
                .input("a", DType.FP32, dims("batch", 3))
                .input("b", DType.FP32, dims("batch", 3))
                .output("sum", DType.FP32, dims("batch", 3))
                .output("product", DType.FP32, dims("batch", 3))
                .node("Add", List.of("a", "b"), "sum")
                .node("Mul", List.of("a", "b"), "product")
                .toBytes();
    }

    /** {@code image FP32 [batch, 3, 64, 64]} → {@code doubled FP32 [batch, 3, 64, 64]} = image * 2 (48 KiB a row each way). */
    public static byte[] imageDoubler() {
        return OnnxModelBuilder.create("test_image_doubler")
                .input("image", DType.FP32, dims("batch", 3, 64, 64))
                .output("doubled", DType.FP32, dims("batch", 3, 64, 64))
                .initializer("two", new float[] {2f})
                .node("Mul", List.of("image", "two"), "doubled")
                .toBytes();
    }

    /** {@code x FP32 [batch, 4]} → {@code y FP32 [batch, 4]} = x * w, element by element along the last axis. */
    public static byte[] scaled(float... w) {
        return OnnxModelBuilder.create("test_scaled")
                .input("x", DType.FP32, dims("batch", 4))
                .output("y", DType.FP32, dims("batch", 4))
                .initializer("w", w, 4)
                .node("Mul", List.of("x", "w"), "y")
                .toBytes();
    }

    /** {@code m FP32 [3, 4]} (no batch axis) → {@code t FP32 [3, 4]} = m * 2. */
    public static byte[] noBatchAxis() {
        return OnnxModelBuilder.create("test_no_batch_axis")
                .input("m", DType.FP32, dims(3, 4))
                .output("t", DType.FP32, dims(3, 4))
                .initializer("two", new float[] {2f})
                .node("Mul", List.of("m", "two"), "t")
                .toBytes();
    }

    /** {@code x FP32 [batch, 4]}, {@code scale FP32 []} (rank 0) → {@code y FP32 [batch, 4]} = x * scale. */
    public static byte[] scalarInput() {
        return OnnxModelBuilder.create("test_scalar_input")
                .input("x", DType.FP32, dims("batch", 4))
                .input("scale", DType.FP32)
                .output("y", DType.FP32, dims("batch", 4))
                .node("Mul", List.of("x", "scale"), "y")
                .toBytes();
    }

    /**
     * {@code image FP32 [batch, 3, height, width]} → 3×3 Conv, 3→2 channels, pads 1, stride 1
     * → {@code features FP32 [batch, 2, height, width]}. Output channel 0 sums the 3×3
     * neighbourhood over all input channels (a box filter); channel 1 is the centre pixel of
     * input channel 0 plus a bias of 0.5.
     */
    public static byte[] dynamicConv() {
        float[] weight = new float[2 * 3 * 3 * 3];
        Arrays.fill(weight, 0, 27, 1f);
        weight[27 + 4] = 1f;
        return OnnxModelBuilder.create("test_dynamic_conv")
                .input("image", DType.FP32, dims("batch", 3, "height", "width"))
                .output("features", DType.FP32, dims("batch", 2, "height", "width"))
                .initializer("weight", weight, 2, 3, 3, 3)
                .initializer("bias", new float[] {0f, 0.5f}, 2)
                .node("Conv", List.of("image", "weight", "bias"), "features",
                        Attribute.ints("kernel_shape", 3, 3),
                        Attribute.ints("pads", 1, 1, 1, 1),
                        Attribute.ints("strides", 1, 1))
                .toBytes();
    }

    /**
     * Five inputs, each [batch, 2], passed through unchanged by Identity nodes:
     * {@code fp64 FP64}, {@code int32 INT32}, {@code uint8 UINT8}, {@code bool BOOL},
     * {@code int64 INT64} → {@code fp64_out}, {@code int32_out}, {@code uint8_out},
     * {@code bool_out}, {@code int64_out} of the same types and shapes.
     */
    public static byte[] allTypes() {
        OnnxModelBuilder b = OnnxModelBuilder.create("test_all_types");
        List<DType> types = List.of(DType.FP64, DType.INT32, DType.UINT8, DType.BOOL, DType.INT64);
        for (int i = 0; i < types.size(); i++) {
            String name = ALL_TYPES_INPUTS.get(i);
            b.input(name, types.get(i), dims("batch", 2))
                    .output(name + "_out", types.get(i), dims("batch", 2))
                    .node("Identity", List.of(name), name + "_out");
        }
        return b.toBytes();
    }

    /**
     * {@code state FP32 [2, batch, 3]} (batch on axis 1) → {@code next FP32 [2, batch, 3]} =
     * state + 1: a model whose first dimension is not the batch axis.
     */
    public static byte[] batchOnSecondAxis() {
        return OnnxModelBuilder.create("test_batch_on_second_axis")
                .input("state", DType.FP32, dims(2, "batch", 3))
                .output("next", DType.FP32, dims(2, "batch", 3))
                .initializer("one", new float[] {1f})
                .node("Add", List.of("state", "one"), "next")
                .toBytes();
    }
}
