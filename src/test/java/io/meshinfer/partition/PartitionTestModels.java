package io.meshinfer.partition;

import static io.meshinfer.models.OnnxModelBuilder.dims;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.meshinfer.models.OnnxModelBuilder;
import io.meshinfer.models.OnnxModelBuilder.Attribute;
import io.meshinfer.tensor.DType;
import java.util.List;
import java.util.Random;

/** Models for partitioning tests that the bench and demo models do not cover. */
final class PartitionTestModels {
    static final int VOCABULARY = 50;
    static final int SEQUENCE = 16;
    static final int WIDTH = 32;

    private PartitionTestModels() {
    }

    /**
     * A masked attention encoder: {@code tokens INT64 [batch, 16]} (ids below 50) and
     * {@code mask BOOL [batch, 16]} → embedding → three layers of masked self-attention
     * (the mask is read again in every layer) with a residual → mean over positions → Gemm →
     * {@code logits FP32 [batch, 4]}.
     */
    static byte[] maskedEncoder() {
        Random random = new Random(7);
        OnnxModelBuilder b = OnnxModelBuilder.create("masked_encoder")
                .input("tokens", DType.INT64, dims("batch", SEQUENCE))
                .input("mask", DType.BOOL, dims("batch", SEQUENCE))
                .output("logits", DType.FP32, dims("batch", 4))
                .initializer("table", gaussian(random, VOCABULARY * WIDTH, 0.5), VOCABULARY, WIDTH)
                .initializer("unsqueeze_axes", new long[] {1}, 1)
                .initializer("masked_score", new float[] {-1e4f})
                .initializer("scale", new float[] {(float) (1 / Math.sqrt(WIDTH))})
                .initializer("head.weight", gaussian(random, WIDTH * 4, 0.2), WIDTH, 4)
                .initializer("head.bias", new float[4], 4)
                .node("Gather", List.of("table", "tokens"), "embedded", Attribute.of("axis", 0))
                .node("Unsqueeze", List.of("mask", "unsqueeze_axes"), "mask3");
        String h = "embedded";
        for (int layer = 0; layer < 3; layer++) {
            String p = "l" + layer + ".";
            b.initializer(p + "w", gaussian(random, WIDTH * WIDTH, Math.sqrt(1.0 / WIDTH)), WIDTH, WIDTH)
                    .node("Transpose", List.of(h), p + "ht", Attribute.ints("perm", 0, 2, 1))
                    .node("MatMul", List.of(h, p + "ht"), p + "raw")
                    .node("Mul", List.of(p + "raw", "scale"), p + "scores")
                    // the mask itself, not only the unsqueezed copy, crosses into later stages
                    .node("Cast", List.of("mask"), p + "maskf", Attribute.of("to", 1))
                    .node("Where", List.of("mask3", p + "scores", "masked_score"), p + "masked")
                    .node("Softmax", List.of(p + "masked"), p + "weights", Attribute.of("axis", -1))
                    .node("MatMul", List.of(p + "weights", h), p + "ctx")
                    .node("MatMul", List.of(p + "ctx", p + "w"), p + "proj")
                    .node("Unsqueeze", List.of(p + "maskf", "unsqueeze_axes"), p + "keep")
                    .node("Transpose", List.of(p + "keep"), p + "keept", Attribute.ints("perm", 0, 2, 1))
                    .node("Mul", List.of(p + "proj", p + "keept"), p + "kept")
                    .node("Add", List.of(h, p + "kept"), p + "out");
            h = p + "out";
        }
        return b.node("ReduceMean", List.of(h), "pooled", Attribute.ints("axes", 1), Attribute.of("keepdims", 0))
                .node("Gemm", List.of("pooled", "head.weight", "head.bias"), "logits")
                .toBytes();
    }

    /**
     * Several outputs, one of them produced by the first layer and read again at the end,
     * one an integer, one the input itself: {@code x FP32 [batch, 8]} → early = tanh(x·W1)
     * [batch, 16] → two Relu layers → y = layer(...) + early → cls = argmax(y).
     * Outputs, in this order: {@code early}, {@code y}, {@code cls INT64 [batch]}, {@code x}.
     */
    static byte[] multiOutput() {
        Random random = new Random(11);
        OnnxModelBuilder b = OnnxModelBuilder.create("multi_output")
                .input("x", DType.FP32, dims("batch", 8))
                .output("early", DType.FP32, dims("batch", 16))
                .output("y", DType.FP32, dims("batch", 16))
                .output("cls", DType.INT64, dims("batch"))
                .output("x", DType.FP32, dims("batch", 8))
                .initializer("w1", gaussian(random, 8 * 16, 0.5), 8, 16)
                .initializer("b1", new float[16], 16);
        for (int i = 2; i <= 4; i++) {
            b.initializer("w" + i, gaussian(random, 16 * 16, 0.35), 16, 16).initializer("b" + i, new float[16], 16);
        }
        return b.node("Gemm", List.of("x", "w1", "b1"), "h1")
                .node("Tanh", List.of("h1"), "early")
                .node("Gemm", List.of("early", "w2", "b2"), "h2")
                .node("Relu", List.of("h2"), "r2")
                .node("Gemm", List.of("r2", "w3", "b3"), "h3")
                .node("Relu", List.of("h3"), "r3")
                .node("Gemm", List.of("r3", "w4", "b4"), "h4")
                .node("Add", List.of("h4", "early"), "y")
                .node("ArgMax", List.of("y"), "cls", Attribute.of("axis", 1), Attribute.of("keepdims", 0))
                .toBytes();
    }

    /**
     * {@code x FP32 [batch, 8]} → a = relu(x) → b = tanh(a) → if sum(x) > 0 then a else -a
     * (both branches read {@code a} from the outer scope, not as a declared input) → y = that + b.
     */
    static byte[] ifWithOuterScope() {
        return OnnxModelBuilder.create("if_outer_scope")
                .input("x", DType.FP32, dims("batch", 8))
                .output("y", DType.FP32, dims("batch", 8))
                .initializer("zero", new float[] {0f})
                .node("Relu", List.of("x"), "a")
                .node("Tanh", List.of("a"), "b")
                .node("ReduceSum", List.of("x"), "total", Attribute.of("keepdims", 0))
                .node("Greater", List.of("total", "zero"), "positive")
                .node("If", List.of("positive"), "chosen", branch("then_branch", "Identity", "then_out"),
                        branch("else_branch", "Neg", "else_out"))
                .node("Add", List.of("chosen", "b"), "y")
                .toBytes();
    }

    private static Attribute branch(String name, String op, String output) {
        GraphProto g = GraphProto.newBuilder()
                .setName(name)
                .addNode(NodeProto.newBuilder().setOpType(op).addInput("a").addOutput(output))
                .addOutput(ValueInfoProto.newBuilder().setName(output).setType(TypeProto.newBuilder()
                        .setTensorType(TypeProto.Tensor.newBuilder().setElemType(1))))
                .build();
        return new Attribute(AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.GRAPH)
                .setG(g).build());
    }

    /**
     * {@code x FP32 [batch, 4, 8]} → relu → Reshape to [-1, 32] (ONNX Runtime's inference
     * cannot tell that -1 is the batch) → MatMul → relu → MatMul → {@code y FP32 [batch, 32]}.
     */
    static byte[] reshapeWithUnknownBatch() {
        Random random = new Random(13);
        return OnnxModelBuilder.create("reshape_unknown_batch")
                .input("x", DType.FP32, dims("batch", 4, 8))
                .output("y", DType.FP32, dims("batch", 32))
                .initializer("flat_shape", new long[] {-1, 32}, 2)
                .initializer("w1", gaussian(random, 32 * 32, 0.2), 32, 32)
                .initializer("w2", gaussian(random, 32 * 32, 0.2), 32, 32)
                .node("Relu", List.of("x"), "r")
                .node("Reshape", List.of("r", "flat_shape"), "flat")
                .node("MatMul", List.of("flat", "w1"), "h")
                .node("Relu", List.of("h"), "hr")
                .node("MatMul", List.of("hr", "w2"), "y")
                .toBytes();
    }

    static float[] gaussian(Random random, int n, double scale) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) (random.nextGaussian() * scale);
        }
        return out;
    }
}
