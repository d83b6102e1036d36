package io.meshinfer.registry;

import io.meshinfer.api.InferenceException;
import io.meshinfer.runtime.LoadedModel;
import io.meshinfer.runtime.ModelSignature;
import io.meshinfer.runtime.TensorSpec;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Golden vectors against a loaded model: records them (seeded random inputs run once),
 * checks that supplied ones fit the model's signature, and measures how far the model's
 * outputs deviate from them. No Pekko. Recording and verifying run the model, so they
 * block: call them on the runtime dispatcher.
 */
public final class GoldenCheck {
    private GoldenCheck() {
    }

    /**
     * The outcome of running golden vectors: whether every output matched (floating-point
     * within the tolerance, others exactly), the largest absolute deviation over every
     * compared output ({@link Double#POSITIVE_INFINITY} when outputs could not be compared),
     * and what an operator needs to know.
     */
    public record Verdict(boolean passed, double maxDeviation, String detail) {
    }

    /**
     * Records up to {@code samples} golden samples for {@code model}: inputs drawn from a
     * {@link Random} seeded with {@code seed} (floating-point inputs standard normal,
     * integer inputs 0 or 1 so that embedding indices stay valid, booleans at random; the
     * batch axis of a batchable model gets 1 row, other dynamic dimensions
     * {@code dynamicDimSize}), each run once. Stops before the samples would exceed
     * {@code maxBytes} of tensor data.
     *
     * @return the golden vectors, or null when not even one sample fits in {@code maxBytes}
     * @throws InferenceException if the model fails on the generated inputs
     */
    public static GoldenVectors record(LoadedModel model, int samples, int dynamicDimSize, long maxBytes,
                                       double tolerance, String source, long seed) {
        ModelSignature sig = model.signature();
        Random random = new Random(seed);
        List<GoldenVectors.Sample> recorded = new ArrayList<>(samples);
        long total = 0;
        for (int s = 0; s < samples; s++) {
            Map<String, long[]> shapes = new LinkedHashMap<>();
            long inputBytes = 0;
            for (TensorSpec spec : sig.inputs()) {
                long[] shape = sampleShape(spec, sig.batchable(), dynamicDimSize);
                long elements = elementsOrMinusOne(shape);
                if (elements < 0 || elements * spec.dtype().byteSize() > maxBytes) {
                    return done(recorded, tolerance, source);
                }
                inputBytes += elements * spec.dtype().byteSize();
                shapes.put(spec.name(), shape);
            }
            if (total + inputBytes > maxBytes) {
                break;
            }
            List<NamedTensor> inputs = new ArrayList<>(shapes.size());
            for (TensorSpec spec : sig.inputs()) {
                inputs.add(new NamedTensor(spec.name(), random(spec.dtype(), shapes.get(spec.name()), random)));
            }
            List<NamedTensor> outputs = model.run(inputs, Set.of());
            GoldenVectors.Sample sample = new GoldenVectors.Sample(byName(inputs), byName(outputs));
            if (total + sample.byteSize() > maxBytes) {
                break;
            }
            total += sample.byteSize();
            recorded.add(sample);
        }
        return done(recorded, tolerance, source);
    }

    private static GoldenVectors done(List<GoldenVectors.Sample> recorded, double tolerance, String source) {
        return recorded.isEmpty() ? null : new GoldenVectors(recorded, tolerance, source);
    }

    private static long[] sampleShape(TensorSpec spec, boolean batchable, int dynamicDimSize) {
        long[] shape = new long[spec.rank()];
        for (int d = 0; d < shape.length; d++) {
            TensorSpec.Dim dim = spec.shape().get(d);
            shape[d] = !dim.isDynamic() ? dim.size() : d == 0 && batchable ? 1 : dynamicDimSize;
        }
        return shape;
    }

    /** The element count of {@code shape}, or -1 if it is more than a tensor may hold. */
    private static long elementsOrMinusOne(long[] shape) {
        try {
            return Tensor.elementCount(shape);
        } catch (IllegalArgumentException e) {
            return -1;
        }
    }

    private static Tensor random(DType dtype, long[] shape, Random random) {
        int n = (int) Tensor.elementCount(shape);
        Object data = dtype.newArray(n);
        switch (dtype) {
            case FP32 -> {
                float[] a = (float[]) data;
                for (int i = 0; i < n; i++) {
                    a[i] = (float) random.nextGaussian();
                }
            }
            case FP64 -> {
                double[] a = (double[]) data;
                for (int i = 0; i < n; i++) {
                    a[i] = random.nextGaussian();
                }
            }
            case INT8, UINT8 -> {
                byte[] a = (byte[]) data;
                for (int i = 0; i < n; i++) {
                    a[i] = (byte) random.nextInt(2);
                }
            }
            case INT16 -> {
                short[] a = (short[]) data;
                for (int i = 0; i < n; i++) {
                    a[i] = (short) random.nextInt(2);
                }
            }
            case INT32 -> {
                int[] a = (int[]) data;
                for (int i = 0; i < n; i++) {
                    a[i] = random.nextInt(2);
                }
            }
            case INT64 -> {
                long[] a = (long[]) data;
                for (int i = 0; i < n; i++) {
                    a[i] = random.nextInt(2);
                }
            }
            case BOOL -> {
                boolean[] a = (boolean[]) data;
                for (int i = 0; i < n; i++) {
                    a[i] = random.nextBoolean();
                }
            }
        }
        return Tensor.of(dtype, shape, data);
    }

    private static Map<String, Tensor> byName(List<NamedTensor> tensors) {
        Map<String, Tensor> m = new HashMap<>();
        for (NamedTensor t : tensors) {
            m.put(t.name(), t.tensor());
        }
        return m;
    }

    /**
     * Checks that golden vectors fit {@code sig}: every sample gives exactly the model's
     * inputs with their types and shapes, and expects only outputs the model has, of the
     * model's types and ranks; and that they hold at most {@code maxBytes} of tensor data.
     *
     * @throws InferenceException.InvalidInput naming the sample and tensor at fault
     */
    public static void validate(GoldenVectors golden, ModelSignature sig, long maxBytes) {
        if (golden.byteSize() > maxBytes) {
            throw new InferenceException.InvalidInput("the golden vectors hold " + golden.byteSize()
                    + " bytes of tensor data, more than the limit of " + maxBytes
                    + " (meshinfer.attestation.max-golden-bytes)");
        }
        for (int i = 0; i < golden.samples().size(); i++) {
            GoldenVectors.Sample s = golden.samples().get(i);
            String where = golden.samples().size() == 1 ? "golden vectors" : "golden sample " + (i + 1);
            try {
                sig.prepare(inputsInOrder(s, sig), List.copyOf(s.outputs().keySet()), Long.MAX_VALUE);
            } catch (InferenceException.InvalidInput e) {
                throw new InferenceException.InvalidInput(where + ": " + e.getMessage());
            }
            for (Map.Entry<String, Tensor> e : s.outputs().entrySet()) {
                TensorSpec spec = sig.output(e.getKey());
                Tensor t = e.getValue();
                if (t.dtype() != spec.dtype()) {
                    throw new InferenceException.InvalidInput(where + ": output '" + e.getKey() + "': datatype "
                            + t.dtype() + " does not match the model's " + spec.dtype());
                }
                if (t.rank() != spec.rank()) {
                    throw new InferenceException.InvalidInput(where + ": output '" + e.getKey() + "': shape "
                            + java.util.Arrays.toString(t.shape()) + " has rank " + t.rank()
                            + ", the model's output has rank " + spec.rank() + " " + spec.shapeString());
                }
            }
        }
    }

    /** The sample's inputs, those the model knows in its order, then any others (which prepare refuses). */
    private static List<NamedTensor> inputsInOrder(GoldenVectors.Sample s, ModelSignature sig) {
        List<NamedTensor> out = new ArrayList<>(s.inputs().size());
        for (TensorSpec spec : sig.inputs()) {
            Tensor t = s.inputs().get(spec.name());
            if (t != null) {
                out.add(new NamedTensor(spec.name(), t));
            }
        }
        s.inputs().keySet().stream().sorted().filter(name -> sig.input(name) == null)
                .forEach(name -> out.add(new NamedTensor(name, s.inputs().get(name))));
        return out;
    }

    /**
     * Runs every sample on {@code model} and compares each expected output. Never throws
     * for a mismatch or a failing model: that is a failed verdict.
     */
    public static Verdict verify(LoadedModel model, GoldenVectors golden) {
        ModelSignature sig = model.signature();
        double tolerance = golden.tolerance();
        double max = 0;
        double worstExcess = -1;
        String worst = null;
        String largest = null;
        int n = golden.samples().size();
        for (int i = 0; i < n; i++) {
            GoldenVectors.Sample s = golden.samples().get(i);
            String where = n == 1 ? "" : " in sample " + (i + 1);
            List<NamedTensor> got;
            try {
                ModelSignature.Prepared p = sig.prepare(inputsInOrder(s, sig), List.copyOf(s.outputs().keySet()),
                        Long.MAX_VALUE);
                got = model.run(p.inputs(), p.outputSet());
            } catch (InferenceException e) {
                return new Verdict(false, Double.POSITIVE_INFINITY, "the golden inputs" + where
                        + " cannot run: " + e.getMessage());
            }
            for (NamedTensor out : got) {
                Tensor expected = s.outputs().get(out.name());
                Tensor actual = out.tensor();
                if (actual.dtype() != expected.dtype() || !actual.sameShape(expected.shape())) {
                    return new Verdict(false, Double.POSITIVE_INFINITY, "output '" + out.name() + "'" + where
                            + " is " + actual + ", the golden vectors expect " + expected);
                }
                double d = actual.maxAbsDifference(expected);
                if (Double.isNaN(d)) {
                    return new Verdict(false, Double.POSITIVE_INFINITY, "output '" + out.name() + "'" + where
                            + " is NaN where the golden vectors expect a number, or the reverse");
                }
                double limit = actual.dtype().isFloatingPoint() ? tolerance : 0;
                if (d > limit && d - limit > worstExcess) {
                    worstExcess = d - limit;
                    worst = "output '" + out.name() + "'" + where + " deviates by " + brief(d) + " (tolerance "
                            + (limit == 0 && tolerance != 0 ? "0: " + actual.dtype() + " must match exactly"
                            : Double.toString(limit)) + ")";
                }
                if (d > max || largest == null) {
                    max = Math.max(max, d);
                    largest = "output '" + out.name() + "'" + where;
                }
            }
        }
        if (worst != null) {
            return new Verdict(false, max, worst);
        }
        return new Verdict(true, max, n + (n == 1 ? " sample" : " samples") + " within tolerance " + tolerance
                + "; largest deviation " + brief(max) + " on " + largest);
    }

    /** A deviation to six significant digits, for messages (the exact value travels as a number). */
    private static String brief(double d) {
        return new java.math.BigDecimal(d).round(new java.math.MathContext(6)).stripTrailingZeros().toString();
    }
}
