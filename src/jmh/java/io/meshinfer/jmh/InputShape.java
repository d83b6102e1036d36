package io.meshinfer.jmh;

import io.meshinfer.tensor.Tensor;

/**
 * The input sizes the codec and Kryo benchmarks run at (a JMH parameter, hence public:
 * JMH's generated code lives in another package).
 */
public enum InputShape {
    /** The input of the benchmark MLP: [1, 256] FP32. */
    MLP(1, 256),
    /** The input of the benchmark CNN: [1, 3, 64, 64] FP32. */
    CNN(1, 3, 64, 64);

    private final long[] dims;

    InputShape(long... dims) {
        this.dims = dims;
    }

    /** An FP32 tensor of this shape holding {@link Fixtures#floats} data. */
    Tensor tensor() {
        return Fixtures.floats(dims);
    }
}
