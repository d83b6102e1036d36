package io.meshinfer.partition;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Seeded random inputs for a model's graph inputs, valid enough to run it: FP32/FP64
 * standard normal; integer inputs that index an embedding table (a Gather whose data is an
 * initializer) uniform over the table's rows, other INT16/INT32/INT64 inputs 0 or 1 (mask
 * style), INT8 and UINT8 over their whole range; BOOL fair coins. The leading dimension,
 * when symbolic or unknown, is the batch size; other symbolic dimensions take the value
 * named in {@code dims} or {@value #DEFAULT_DIM}.
 */
final class RandomInputs {
    static final long DEFAULT_DIM = 8;

    private record Spec(String name, DType dtype, List<TensorShapeProto.Dimension> dims, long bound) {
    }

    private final List<Spec> specs;
    private final Map<String, Long> dimValues;

    private RandomInputs(List<Spec> specs, Map<String, Long> dimValues) {
        this.specs = specs;
        this.dimValues = dimValues;
    }

    static RandomInputs of(ModelGraph g, Map<String, Long> dimValues) throws PartitionException {
        List<Spec> specs = new ArrayList<>();
        for (ValueInfoProto in : g.inputs) {
            TypeProto t = in.getType();
            if (!t.hasTensorType()) {
                throw new PartitionException("graph input '" + in.getName() + "' is not a tensor; meshinfer serves"
                        + " tensor inputs only");
            }
            DType dtype = OnnxTypes.dtype(t.getTensorType().getElemType());
            if (dtype == null) {
                throw new PartitionException("graph input '" + in.getName() + "' has element type "
                        + OnnxTypes.name(t.getTensorType().getElemType()) + ", which meshinfer does not serve");
            }
            if (!t.getTensorType().hasShape()) {
                throw new PartitionException("graph input '" + in.getName() + "' declares no shape (not even its"
                        + " rank): cannot make inputs to check the split with");
            }
            specs.add(new Spec(in.getName(), dtype, t.getTensorType().getShape().getDimList(),
                    indexBound(g, in.getName())));
        }
        return new RandomInputs(List.copyOf(specs), Map.copyOf(dimValues));
    }

    /**
     * Whether some input has a symbolic (or unknown) leading dimension, so that the batch size
     * changes the inputs; a model with fixed shapes runs with the same shapes whatever it is.
     */
    boolean batchable() {
        for (Spec s : specs) {
            if (!s.dims.isEmpty() && !s.dims.get(0).hasDimValue()) {
                return true;
            }
        }
        return false;
    }

    /** The inputs for one run of {@code batch} rows; the same seed gives the same tensors. */
    List<NamedTensor> generate(int batch, long seed) {
        Random random = new Random(seed);
        List<NamedTensor> out = new ArrayList<>(specs.size());
        for (Spec s : specs) {
            long[] shape = new long[s.dims.size()];
            for (int i = 0; i < shape.length; i++) {
                TensorShapeProto.Dimension d = s.dims.get(i);
                if (d.hasDimValue()) {
                    shape[i] = d.getDimValue();
                } else if (i == 0) {
                    shape[i] = batch;
                } else {
                    shape[i] = dimValues.getOrDefault(d.getDimParam(), DEFAULT_DIM);
                }
            }
            int n = Math.toIntExact(Tensor.elementCount(shape));
            Tensor t = switch (s.dtype) {
                case FP32 -> {
                    float[] v = new float[n];
                    for (int i = 0; i < n; i++) {
                        v[i] = (float) random.nextGaussian();
                    }
                    yield Tensor.ofFloats(shape, v);
                }
                case FP64 -> {
                    double[] v = new double[n];
                    for (int i = 0; i < n; i++) {
                        v[i] = random.nextGaussian();
                    }
                    yield Tensor.ofDoubles(shape, v);
                }
                case INT64 -> {
                    long[] v = new long[n];
                    for (int i = 0; i < n; i++) {
                        v[i] = nextBounded(random, s.bound);
                    }
                    yield Tensor.ofLongs(shape, v);
                }
                case INT32 -> {
                    int[] v = new int[n];
                    for (int i = 0; i < n; i++) {
                        v[i] = (int) nextBounded(random, s.bound);
                    }
                    yield Tensor.ofInts(shape, v);
                }
                case INT16 -> {
                    short[] v = new short[n];
                    for (int i = 0; i < n; i++) {
                        v[i] = (short) nextBounded(random, Math.min(s.bound, Short.MAX_VALUE));
                    }
                    yield Tensor.of(DType.INT16, shape, v);
                }
                case INT8, UINT8 -> {
                    byte[] v = new byte[n];
                    random.nextBytes(v);
                    yield Tensor.of(s.dtype, shape, v);
                }
                case BOOL -> {
                    boolean[] v = new boolean[n];
                    for (int i = 0; i < n; i++) {
                        v[i] = random.nextBoolean();
                    }
                    yield Tensor.ofBooleans(shape, v);
                }
            };
            out.add(new NamedTensor(s.name, t));
        }
        return out;
    }

    private static long nextBounded(Random random, long bound) {
        return bound <= 1 ? 0 : (long) (random.nextDouble() * bound);
    }

    /**
     * The number of rows of the smallest embedding table {@code input} indexes directly (a
     * Gather whose data is an initializer), or 2 when it indexes none.
     */
    private static long indexBound(ModelGraph g, String input) {
        long bound = Long.MAX_VALUE;
        for (NodeProto n : g.nodes) {
            if (!n.getOpType().equals("Gather") || n.getInputCount() < 2 || !n.getInput(1).equals(input)) {
                continue;
            }
            TensorProto data = g.initializers.get(n.getInput(0));
            if (data == null || data.getDimsCount() == 0) {
                continue;
            }
            long axis = 0;
            for (AttributeProto a : n.getAttributeList()) {
                if (a.getName().equals("axis")) {
                    axis = a.getI();
                }
            }
            if (axis < 0) {
                axis += data.getDimsCount();
            }
            if (axis >= 0 && axis < data.getDimsCount()) {
                bound = Math.min(bound, data.getDims((int) axis));
            }
        }
        return bound == Long.MAX_VALUE ? 2 : bound;
    }
}
