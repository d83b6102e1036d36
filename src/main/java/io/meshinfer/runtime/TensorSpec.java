package io.meshinfer.runtime;

import io.meshinfer.tensor.DType;
import java.util.List;
import java.util.stream.Collectors;

/**
 * What a model expects of one input or promises of one output: its name, element type
 * and shape. A dimension is either fixed ({@code size >= 0}) or dynamic ({@code size == -1},
 * with the symbolic name the model gives it, or an empty name when it gives none).
 */
public record TensorSpec(String name, DType dtype, List<Dim> shape) {

    /** One dimension of a {@link TensorSpec}. */
    public record Dim(long size, String symbol) {
        public Dim {
            symbol = symbol == null ? "" : symbol;
        }

        public static Dim fixed(long size) {
            return new Dim(size, "");
        }

        public static Dim symbolic(String symbol) {
            return new Dim(-1, symbol);
        }

        public boolean isDynamic() {
            return size < 0;
        }

        @Override
        public String toString() {
            return isDynamic() ? (symbol.isEmpty() ? "?" : symbol) : Long.toString(size);
        }
    }

    public TensorSpec {
        shape = List.copyOf(shape);
    }

    public int rank() {
        return shape.size();
    }

    /** The shape as the Open Inference Protocol reports it: -1 for a dynamic dimension. */
    public long[] protocolShape() {
        long[] s = new long[shape.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = shape.get(i).size();
        }
        return s;
    }

    /** The shape with symbolic names, e.g. {@code [batch, 4]}. */
    public String shapeString() {
        return shape.stream().map(Dim::toString).collect(Collectors.joining(", ", "[", "]"));
    }
}
