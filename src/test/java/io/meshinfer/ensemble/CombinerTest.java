package io.meshinfer.ensemble;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.api.InferenceException;
import io.meshinfer.registry.EnsembleSpec.Combine;
import io.meshinfer.runtime.ModelSignature;
import io.meshinfer.runtime.TensorSpec;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The combine modes on hand-computed values, and the deploy-time signature check. */
class CombinerTest {

    private static List<NamedTensor> out(Tensor t) {
        return List.of(new NamedTensor("y", t));
    }

    private static Tensor combine(Combine mode, double[] weights, Tensor... parts) {
        List<List<NamedTensor>> answers = java.util.Arrays.stream(parts).map(CombinerTest::out).toList();
        List<NamedTensor> result = Combiner.combine(mode, answers, weights);
        assertEquals(1, result.size());
        assertEquals("y", result.get(0).name());
        return result.get(0).tensor();
    }

    @Test
    void meanAveragesElementByElement() {
        Tensor t = combine(Combine.MEAN, new double[] {5, 7},
                Tensor.ofFloats(new long[] {2, 2}, 1, 2, 3, 4), Tensor.ofFloats(new long[] {2, 2}, 3, 6, -3, 0));
        assertEquals(DType.FP32, t.dtype());
        assertArrayEquals(new long[] {2, 2}, t.shape());
        assertArrayEquals(new float[] {2, 4, 0, 2}, t.floats(), "weights are ignored by mean");
    }

    @Test
    void weightedMeanDividesByTheWeightsOfTheMembersThatAnswered() {
        Tensor t = combine(Combine.WEIGHTED_MEAN, new double[] {1, 3},
                Tensor.ofDoubles(new long[] {1, 3}, 4, 0, 8), Tensor.ofDoubles(new long[] {1, 3}, 0, 4, 8));
        assertEquals(DType.FP64, t.dtype());
        assertArrayEquals(new double[] {1, 3, 8}, t.doubles());
    }

    @Test
    void voteTakesTheWeightedMajorityOfEachRowsArgmax() {
        // row 0: argmaxes 2, 2, 0 -> 2; row 1: argmaxes 0, 1, 1 -> 1
        Tensor t = combine(Combine.VOTE, new double[] {1, 1, 1},
                Tensor.ofFloats(new long[] {2, 3}, 0, 1, 5, 9, 1, 2),
                Tensor.ofFloats(new long[] {2, 3}, 0, 0, 1, 0, 7, 1),
                Tensor.ofFloats(new long[] {2, 3}, 4, 1, 2, 0, 3, 1));
        assertEquals(DType.INT64, t.dtype());
        assertArrayEquals(new long[] {2}, t.shape());
        assertArrayEquals(new long[] {2, 1}, t.longs());
    }

    @Test
    void voteWeightsCanOutvoteAMajority() {
        Tensor t = combine(Combine.VOTE, new double[] {3, 1, 1},
                Tensor.ofLongs(new long[] {2}, 7, 1), Tensor.ofLongs(new long[] {2}, 4, 2),
                Tensor.ofLongs(new long[] {2}, 4, 2));
        assertArrayEquals(new long[] {7, 1}, t.longs(), "a weight of 3 beats two votes of 1");
    }

    @Test
    void voteTiesGoToTheSmallestLabelAndEqualScoresToTheFirstClass() {
        Tensor labels = combine(Combine.VOTE, new double[] {1, 1},
                Tensor.ofInts(new long[] {3}, 5, 2, 9), Tensor.ofInts(new long[] {3}, 3, 8, 9));
        assertEquals(DType.INT64, labels.dtype());
        assertArrayEquals(new long[] {3, 2, 9}, labels.longs());
        Tensor scores = combine(Combine.VOTE, new double[] {1},
                Tensor.ofFloats(new long[] {1, 3}, 2, 2, 1));
        assertArrayEquals(new long[] {0}, scores.longs());
    }

    @Test
    void concatPutsMembersSideBySideAlongTheLastAxis() {
        Tensor t = combine(Combine.CONCAT, new double[] {1, 1},
                Tensor.ofFloats(new long[] {2, 2}, 1, 2, 3, 4), Tensor.ofFloats(new long[] {2, 1}, 9, 8));
        assertArrayEquals(new long[] {2, 3}, t.shape());
        assertArrayEquals(new float[] {1, 2, 9, 3, 4, 8}, t.floats());
        Tensor ints = combine(Combine.CONCAT, new double[] {1, 1},
                Tensor.ofLongs(new long[] {1}, 5), Tensor.ofLongs(new long[] {2}, 6, 7));
        assertArrayEquals(new long[] {5, 6, 7}, ints.longs());
    }

    @Test
    void answersThatDoNotFitFailAsTheModelsFault() {
        var e = assertThrows(InferenceException.ModelFailed.class, () -> combine(Combine.MEAN, new double[] {1, 1},
                Tensor.ofFloats(new long[] {1, 2}, 1, 2), Tensor.ofFloats(new long[] {1, 3}, 1, 2, 3)));
        assertTrue(e.getMessage().contains("'y'"), e.getMessage());
        assertThrows(InferenceException.ModelFailed.class, () -> combine(Combine.CONCAT, new double[] {1, 1},
                Tensor.ofFloats(new long[] {1, 2}, 1, 2), Tensor.ofFloats(new long[] {2, 2}, 1, 2, 3, 4)));
        assertThrows(InferenceException.ModelFailed.class, () -> combine(Combine.MEAN, new double[] {1},
                Tensor.ofLongs(new long[] {1}, 1)));
    }

    private static ModelSignature sig(TensorSpec in, TensorSpec out) {
        return ModelSignature.of(List.of(in), List.of(out));
    }

    private static TensorSpec spec(String name, DType type, Object... dims) {
        List<TensorSpec.Dim> d = java.util.Arrays.stream(dims).map(x -> x instanceof String s
                ? TensorSpec.Dim.symbolic(s) : TensorSpec.Dim.fixed(((Number) x).longValue())).toList();
        return new TensorSpec(name, type, d);
    }

    @Test
    void signatureOfAnEnsembleFollowsItsCombineMode() {
        ModelSignature a = sig(spec("x", DType.FP32, "batch", 4), spec("y", DType.FP32, "batch", 3));
        ModelSignature b = sig(spec("x", DType.FP32, "n", 4), spec("y", DType.FP32, "batch", 2));
        List<String> labels = List.of("a@1", "b@1");
        assertEquals(List.of(spec("y", DType.FP32, "batch", 5)),
                EnsembleSignature.derive(Combine.CONCAT, List.of(a, b), labels).outputs());
        assertEquals(List.of(spec("y", DType.INT64, "batch")),
                EnsembleSignature.derive(Combine.VOTE, List.of(a, a), labels).outputs());
        var unequal = assertThrows(IllegalArgumentException.class,
                () -> EnsembleSignature.derive(Combine.MEAN, List.of(a, b), labels));
        assertTrue(unequal.getMessage().contains("member 'b@1'"), unequal.getMessage());
        ModelSignature other = sig(spec("image", DType.FP32, "batch", 4), spec("y", DType.FP32, "batch", 3));
        var inputs = assertThrows(IllegalArgumentException.class,
                () -> EnsembleSignature.derive(Combine.MEAN, List.of(a, other), labels));
        assertTrue(inputs.getMessage().contains("no input 'x'"), inputs.getMessage());
        ModelSignature labelsOut = sig(spec("x", DType.FP32, "batch", 4), spec("y", DType.INT64, "batch"));
        var notFloat = assertThrows(IllegalArgumentException.class,
                () -> EnsembleSignature.derive(Combine.WEIGHTED_MEAN, List.of(labelsOut, labelsOut), labels));
        assertTrue(notFloat.getMessage().contains("FP32 or FP64"), notFloat.getMessage());
    }
}
