package io.meshinfer.rollout;

import io.meshinfer.api.InferenceResponse;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.util.Arrays;

/**
 * Whether two versions' answers to one request agree: per output, the largest absolute
 * difference, and agreement by top-1 class (argmax of the last axis of each row) for
 * outputs of rank 2 or more with more than one class, or by the tolerance otherwise.
 * A missing output, or one of another type or shape, disagrees with an infinite difference.
 */
public record OutputComparison(boolean agreed, double maxAbsDiff) {
    /** Tolerance for outputs without classes when the rollout sets no {@code maxAbsDiff}. */
    public static final double DEFAULT_TOLERANCE = 1e-4;

    public static OutputComparison of(InferenceResponse served, InferenceResponse candidate, double tolerance) {
        boolean agreed = true;
        double max = 0;
        for (NamedTensor out : served.outputs()) {
            Tensor a = out.tensor();
            Tensor b = NamedTensor.find(candidate.outputs(), out.name());
            if (b == null || a.dtype() != b.dtype() || !Arrays.equals(a.shape(), b.shape())) {
                return new OutputComparison(false, Double.POSITIVE_INFINITY);
            }
            double diff = a.maxAbsDifference(b);
            if (Double.isNaN(diff)) {
                return new OutputComparison(false, Double.POSITIVE_INFINITY);
            }
            max = Math.max(max, diff);
            if (a.rank() >= 2 && a.dim(a.rank() - 1) > 1) {
                agreed &= sameTop1(a, b);
            } else {
                agreed &= diff <= tolerance;
            }
        }
        return new OutputComparison(agreed, max);
    }

    private static boolean sameTop1(Tensor a, Tensor b) {
        int classes = (int) a.dim(a.rank() - 1);
        for (int row = 0, rows = a.size() / classes; row < rows; row++) {
            if (argmax(a, row * classes, classes) != argmax(b, row * classes, classes)) {
                return false;
            }
        }
        return true;
    }

    private static int argmax(Tensor t, int from, int n) {
        int best = 0;
        double bestValue = t.getAsDouble(from);
        for (int i = 1; i < n; i++) {
            double v = t.getAsDouble(from + i);
            if (v > bestValue) {
                best = i;
                bestValue = v;
            }
        }
        return best;
    }
}
