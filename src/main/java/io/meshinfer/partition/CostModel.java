package io.meshinfer.partition;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import java.util.Map;

/**
 * Estimated work of one node for one sample, in FLOPs (two per multiply-accumulate), from
 * the shapes measured by {@link ValueProbe}:
 * <ul>
 *   <li>MatMul, MatMulInteger, QLinearMatMul: 2 · output elements · K (the shared dimension);</li>
 *   <li>Gemm: 2 · output elements · K (K from A's shape and transA);</li>
 *   <li>Conv, QLinearConv: 2 · output elements · (input channels per group · kernel size);</li>
 *   <li>ConvTranspose: 2 · input elements · (output channels per group · kernel size);</li>
 *   <li>any other node whose outputs were measured: one per output element (element-wise
 *       work, normalisation, pooling, data movement);</li>
 *   <li>otherwise the bytes of the node's initializer inputs, and at least 1.</li>
 * </ul>
 */
final class CostModel {
    private CostModel() {
    }

    /** Per node (topological order), its estimated FLOPs per sample. */
    static long[] nodeCosts(ModelGraph g, Map<String, long[]> shapes) {
        long[] cost = new long[g.size()];
        for (int i = 0; i < g.size(); i++) {
            cost[i] = Math.max(1, nodeCost(g, g.nodes.get(i), shapes));
        }
        return cost;
    }

    /** Bytes of all initializers a node reads directly. */
    static long parameterBytes(ModelGraph g, NodeProto n) {
        long bytes = 0;
        for (String in : n.getInputList()) {
            TensorProto t = g.initializers.get(in);
            if (t != null) {
                bytes += tensorBytes(t);
            }
        }
        return bytes;
    }

    static long tensorBytes(TensorProto t) {
        long elements = 1;
        for (long d : t.getDimsList()) {
            elements *= d;
        }
        return elements * OnnxTypes.elementBytes(t.getDataType());
    }

    private static long nodeCost(ModelGraph g, NodeProto n, Map<String, long[]> shapes) {
        long[] out = n.getOutputCount() > 0 ? shapes.get(n.getOutput(0)) : null;
        long formula = switch (n.getOpType()) {
            case "MatMul", "MatMulInteger" -> matMul(out, input(n, 0, shapes));
            case "QLinearMatMul" -> matMul(out, input(n, 0, shapes));
            case "Gemm" -> gemm(n, out, input(n, 0, shapes));
            case "Conv" -> conv(out, input(n, 1, shapes));
            case "QLinearConv" -> conv(out, input(n, 3, shapes));
            case "ConvTranspose" -> convTranspose(input(n, 0, shapes), input(n, 1, shapes));
            default -> -1;
        };
        if (formula >= 0) {
            return formula;
        }
        long elements = 0;
        boolean measured = false;
        for (String o : n.getOutputList()) {
            long[] s = shapes.get(o);
            if (s != null) {
                measured = true;
                elements += elements(s);
            }
        }
        return measured ? elements : parameterBytes(g, n);
    }

    private static long[] input(NodeProto n, int index, Map<String, long[]> shapes) {
        return index < n.getInputCount() ? shapes.get(n.getInput(index)) : null;
    }

    private static long matMul(long[] out, long[] a) {
        if (out == null || a == null || a.length == 0) {
            return -1;
        }
        return 2 * elements(out) * a[a.length - 1];
    }

    private static long gemm(NodeProto n, long[] out, long[] a) {
        if (out == null || a == null || a.length != 2) {
            return -1;
        }
        long transA = 0;
        for (AttributeProto attr : n.getAttributeList()) {
            if (attr.getName().equals("transA")) {
                transA = attr.getI();
            }
        }
        return 2 * elements(out) * (transA != 0 ? a[0] : a[1]);
    }

    private static long conv(long[] out, long[] w) {
        if (out == null || w == null || w.length < 3) {
            return -1;
        }
        long perOutput = 1;
        for (int i = 1; i < w.length; i++) {
            perOutput *= w[i];
        }
        return 2 * elements(out) * perOutput;
    }

    private static long convTranspose(long[] x, long[] w) {
        if (x == null || w == null || w.length < 3) {
            return -1;
        }
        long perInput = 1;
        for (int i = 1; i < w.length; i++) {
            perInput *= w[i];
        }
        return 2 * elements(x) * perInput;
    }

    static long elements(long[] shape) {
        long e = 1;
        for (long d : shape) {
            e *= Math.max(d, 0);
        }
        return e;
    }
}
