package io.meshinfer.ensemble;

import io.meshinfer.api.InferenceException;
import io.meshinfer.registry.EnsembleSpec.Combine;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Combines the outputs of the members of an ensemble that answered into the ensemble's
 * outputs, output by output (by name, in the order of the first answer):
 * <ul>
 * <li>{@code mean}: the element-wise mean of floating-point outputs of equal shapes;</li>
 * <li>{@code weighted_mean}: {@code sum(w_k * x_k) / sum(w_k)} over the members that answered
 *     (so the weights of missing members drop out);</li>
 * <li>{@code vote}: each member votes a label per row, the argmax over the last axis of a
 *     floating-point output (the first maximum on equal scores) or the value itself of an integer
 *     or boolean output; a vote counts the member's weight (1 unless set); the label with the most
 *     weight wins, and a tie goes to the smallest label. The result is {@code INT64}: the shape
 *     without its last axis for floating-point outputs, the same shape for labels;</li>
 * <li>{@code concat}: the outputs side by side along the last axis, in member order; every other
 *     dimension must agree.</li>
 * </ul>
 * Sums are taken in double precision and the result stored in the outputs' own type. Pure,
 * stateless and thread-safe; no Pekko.
 */
public final class Combiner {
    private Combiner() {
    }

    /**
     * @param answers each answering member's outputs, in member order
     * @param weights the weight of each of those members
     * @throws InferenceException.ModelFailed if the members' outputs do not fit together (a
     *     shape or type the deploy-time check could not see, behind a symbolic dimension)
     */
    public static List<NamedTensor> combine(Combine mode, List<List<NamedTensor>> answers, double[] weights) {
        if (answers.isEmpty()) {
            throw new IllegalArgumentException("nothing to combine");
        }
        List<NamedTensor> out = new ArrayList<>(answers.get(0).size());
        for (NamedTensor first : answers.get(0)) {
            List<Tensor> parts = new ArrayList<>(answers.size());
            for (List<NamedTensor> a : answers) {
                Tensor t = NamedTensor.find(a, first.name());
                if (t == null) {
                    throw new InferenceException.ModelFailed("a member of the ensemble gave no output '"
                            + first.name() + "'");
                }
                parts.add(t);
            }
            out.add(new NamedTensor(first.name(), switch (mode) {
                case MEAN -> mean(first.name(), parts, null);
                case WEIGHTED_MEAN -> mean(first.name(), parts, weights);
                case VOTE -> vote(first.name(), parts, weights);
                case CONCAT -> concat(first.name(), parts);
            }));
        }
        return out;
    }

    /** The (weighted, when {@code weights} is given) element-wise mean. */
    static Tensor mean(String name, List<Tensor> parts, double[] weights) {
        Tensor first = parts.get(0);
        if (!first.dtype().isFloatingPoint()) {
            throw new InferenceException.ModelFailed("output '" + name + "' is " + first.dtype()
                    + "; a mean needs FP32 or FP64");
        }
        for (Tensor t : parts) {
            sameTypeAndShape(name, first, t);
        }
        int n = first.size();
        double[] sum = new double[n];
        double total = 0;
        for (int k = 0; k < parts.size(); k++) {
            double w = weights == null ? 1 : weights[k];
            total += w;
            Tensor t = parts.get(k);
            for (int i = 0; i < n; i++) {
                sum[i] += w * t.getAsDouble(i);
            }
        }
        if (first.dtype() == DType.FP64) {
            for (int i = 0; i < n; i++) {
                sum[i] /= total;
            }
            return Tensor.ofDoubles(first.shape(), sum);
        }
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) (sum[i] / total);
        }
        return Tensor.ofFloats(first.shape(), f);
    }

    /** The weighted majority label per row; ties go to the smallest label. */
    static Tensor vote(String name, List<Tensor> parts, double[] weights) {
        Tensor first = parts.get(0);
        boolean scores = first.dtype().isFloatingPoint();
        if (scores && first.rank() == 0) {
            throw new InferenceException.ModelFailed("output '" + name + "' is a scalar score; a vote needs"
                    + " class scores along a last axis, or integer labels");
        }
        long[][] labels = new long[parts.size()][];
        for (int k = 0; k < parts.size(); k++) {
            Tensor t = parts.get(k);
            boolean fits = scores ? t.rank() == first.rank() : t.sameShape(first.shape());
            if (t.dtype().isFloatingPoint() != scores || !fits) {
                throw new InferenceException.ModelFailed("members disagree on output '" + name + "': " + first.dtype()
                        + Arrays.toString(first.shape()) + " against " + t.dtype() + Arrays.toString(t.shape()));
            }
            labels[k] = scores ? argmax(name, t, first) : asLabels(t);
        }
        int n = labels[0].length;
        long[] winners = new long[n];
        long[] candidates = new long[parts.size()];
        double[] tally = new double[parts.size()];
        for (int i = 0; i < n; i++) {
            int distinct = 0;
            for (int k = 0; k < parts.size(); k++) {
                long label = labels[k][i];
                int at = 0;
                while (at < distinct && candidates[at] != label) {
                    at++;
                }
                if (at == distinct) {
                    candidates[distinct] = label;
                    tally[distinct++] = 0;
                }
                tally[at] += weights[k];
            }
            int best = 0;
            for (int c = 1; c < distinct; c++) {
                if (tally[c] > tally[best] || (tally[c] == tally[best] && candidates[c] < candidates[best])) {
                    best = c;
                }
            }
            winners[i] = candidates[best];
        }
        return Tensor.ofLongs(scores ? Arrays.copyOf(first.shape(), first.rank() - 1) : first.shape(), winners);
    }

    /** The index of the largest score along the last axis of each row (the first on equal scores). */
    private static long[] argmax(String name, Tensor t, Tensor first) {
        long[] shape = t.shape();
        for (int d = 0; d < shape.length - 1; d++) {
            if (shape[d] != first.shape()[d]) {
                throw new InferenceException.ModelFailed("members disagree on the shape of output '" + name + "': "
                        + Arrays.toString(first.shape()) + " against " + Arrays.toString(shape));
            }
        }
        int classes = (int) shape[shape.length - 1];
        if (classes == 0) {
            throw new InferenceException.ModelFailed("output '" + name + "' has no class scores to vote on");
        }
        int rows = t.size() / classes;
        long[] out = new long[rows];
        for (int r = 0; r < rows; r++) {
            out[r] = t.argmax(r * classes, classes);
        }
        return out;
    }

    private static long[] asLabels(Tensor t) {
        long[] out = new long[t.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (long) t.getAsDouble(i);
        }
        return out;
    }

    /** The parts side by side along the last axis, in order. */
    static Tensor concat(String name, List<Tensor> parts) {
        Tensor first = parts.get(0);
        if (first.rank() == 0) {
            throw new InferenceException.ModelFailed("output '" + name + "' is a scalar; concat needs an axis");
        }
        int last = first.rank() - 1;
        long width = 0;
        for (Tensor t : parts) {
            if (t.dtype() != first.dtype() || t.rank() != first.rank()
                    || !Arrays.equals(t.shape(), 0, last, first.shape(), 0, last)) {
                throw new InferenceException.ModelFailed("members disagree on output '" + name + "': "
                        + first.dtype() + Arrays.toString(first.shape()) + " against " + t.dtype()
                        + Arrays.toString(t.shape()) + " (concat needs equal types and all but the last dimension)");
            }
            width += t.dim(last);
        }
        long[] shape = first.shape();
        shape[last] = width;
        long total;
        try {
            total = Tensor.elementCount(shape);
        } catch (IllegalArgumentException e) {
            throw new InferenceException.ModelFailed("the concatenation of output '" + name + "' is too large: "
                    + e.getMessage());
        }
        Object data = first.dtype().newArray((int) total);
        int rows = (int) Tensor.elementCount(Arrays.copyOf(shape, last));
        int at = 0;
        for (int r = 0; r < rows; r++) {
            for (Tensor t : parts) {
                int w = (int) t.dim(last);
                System.arraycopy(t.data(), r * w, data, at, w);
                at += w;
            }
        }
        return Tensor.of(first.dtype(), shape, data);
    }

    private static void sameTypeAndShape(String name, Tensor first, Tensor t) {
        if (t.dtype() != first.dtype() || !t.sameShape(first.shape())) {
            throw new InferenceException.ModelFailed("members disagree on output '" + name + "': " + first.dtype()
                    + Arrays.toString(first.shape()) + " against " + t.dtype() + Arrays.toString(t.shape()));
        }
    }
}
