package io.meshinfer.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.api.ErrorKind;
import io.meshinfer.api.InferenceException;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testmodels.TestModels;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ModelSignature#prepare}: every way a request can fail to fit a model, with the exact
 * message the user sees, and the rows and batch key of requests that fit. Signatures are
 * read from the test models by ONNX Runtime once for the class.
 */
class ModelSignatureTest {
    private static final long NO_LIMIT = Long.MAX_VALUE;

    @TempDir
    static Path dir;

    private static ModelSignature mlp;
    private static ModelSignature twoInTwoOut;
    private static ModelSignature conv;
    private static ModelSignature scalarInput;
    private static ModelSignature noBatchAxis;

    @BeforeAll
    static void readSignatures() throws Exception {
        try (ModelRuntime runtime = new ModelRuntime(TestModelFiles.settings())) {
            mlp = runtime.inspect("mlp", TestModelFiles.write(dir, "mlp.onnx", TestModels.mlp()));
            twoInTwoOut = runtime.inspect("two", TestModelFiles.write(dir, "two.onnx", TestModels.twoInTwoOut()));
            conv = runtime.inspect("conv", TestModelFiles.write(dir, "conv.onnx", TestModels.dynamicConv()));
            scalarInput = runtime.inspect("scalar", TestModelFiles.write(dir, "scalar.onnx", TestModels.scalarInput()));
            noBatchAxis = runtime.inspect("nobatch", TestModelFiles.write(dir, "nb.onnx", TestModels.noBatchAxis()));
        }
    }

    private static NamedTensor floats(String name, long... shape) {
        return new NamedTensor(name, Tensor.ofFloats(shape, new float[(int) Tensor.elementCount(shape)]));
    }

    private static String rejection(ModelSignature sig, List<NamedTensor> given, List<String> outputs, long max) {
        InferenceException.InvalidInput e = assertThrows(InferenceException.InvalidInput.class,
                () -> sig.prepare(given, outputs, max));
        assertEquals(ErrorKind.INVALID_INPUT, e.kind());
        return e.getMessage();
    }

    private static String rejection(ModelSignature sig, NamedTensor... given) {
        return rejection(sig, List.of(given), List.of(), NO_LIMIT);
    }

    @Test
    void aFittingRequestGetsItsInputsInTheModelsOrder() {
        NamedTensor a = floats("a", 2, 3);
        NamedTensor b = floats("b", 2, 3);

        ModelSignature.Prepared p = twoInTwoOut.prepare(List.of(b, a), List.of(), NO_LIMIT);

        assertEquals(List.of("a", "b"), p.inputs().stream().map(NamedTensor::name).toList());
        assertSame(a.tensor(), p.inputs().get(0).tensor(), "inputs are not copied");
        assertEquals(2, p.rows());
        assertEquals(List.of(), p.outputs());
        assertEquals(Set.of(), p.outputSet());
    }

    @Test
    void aMissingInputIsNamed() {
        assertEquals("missing input 'b' (model inputs: a, b)", rejection(twoInTwoOut, floats("a", 1, 3)));
    }

    @Test
    void anUnexpectedInputIsNamed() {
        assertEquals("unexpected input 'c' (model inputs: a, b)",
                rejection(twoInTwoOut, floats("a", 1, 3), floats("b", 1, 3), floats("c", 1, 3)));
    }

    @Test
    void aDuplicateInputIsNamed() {
        assertEquals("duplicate input 'a'",
                rejection(twoInTwoOut, floats("a", 1, 3), floats("a", 1, 3), floats("b", 1, 3)));
    }

    @Test
    void aWrongDatatypeIsNamed() {
        NamedTensor x = new NamedTensor("x", Tensor.ofLongs(new long[] {1, 4}, 1, 2, 3, 4));

        assertEquals("input 'x': datatype INT64 does not match the model's FP32", rejection(mlp, x));
    }

    @Test
    void aWrongRankIsNamed() {
        assertEquals("input 'x': shape [4] has rank 1, the model expects rank 2 [batch, 4]",
                rejection(mlp, floats("x", 4)));
    }

    @Test
    void aRankOneTensorForARankZeroInputIsAWrongRank() {
        assertEquals("input 'scale': shape [1] has rank 1, the model expects rank 0 []",
                rejection(scalarInput, floats("x", 2, 4), floats("scale", 1)));
    }

    @Test
    void aWrongFixedDimensionIsNamed() {
        assertEquals("input 'x': shape [2, 5] does not match the model's [batch, 4] (dimension 1 must be 4)",
                rejection(mlp, floats("x", 2, 5)));
    }

    @Test
    void aWrongDimensionOfAModelWithoutBatchAxisIsNamed() {
        assertEquals("input 'm': shape [1, 3, 4] has rank 3, the model expects rank 2 [3, 4]",
                rejection(noBatchAxis, floats("m", 1, 3, 4)));
        assertEquals("input 'm': shape [4, 4] does not match the model's [3, 4] (dimension 0 must be 3)",
                rejection(noBatchAxis, floats("m", 4, 4)));
    }

    @Test
    void aSymbolicDimensionMustAgreeAcrossInputs() {
        assertEquals("input 'b': dimension 'batch' is 3, but 2 in input 'a'",
                rejection(twoInTwoOut, floats("a", 2, 3), floats("b", 3, 3)));
    }

    @Test
    void differentSymbolsInOneInputMayDiffer() {
        ModelSignature.Prepared p = conv.prepare(List.of(floats("image", 1, 3, 8, 16)), List.of(), NO_LIMIT);

        assertEquals(1, p.rows());
    }

    @Test
    void anUnknownOutputIsNamed() {
        assertEquals("unknown output 'difference' (model outputs: sum, product)",
                rejection(twoInTwoOut, List.of(floats("a", 1, 3), floats("b", 1, 3)), List.of("difference"),
                        NO_LIMIT));
    }

    @Test
    void anOutputRequestedTwiceIsRejected() {
        assertEquals("an output is requested twice: [sum, sum]",
                rejection(twoInTwoOut, List.of(floats("a", 1, 3), floats("b", 1, 3)), List.of("sum", "sum"),
                        NO_LIMIT));
    }

    @Test
    void requestedOutputsAreKept() {
        ModelSignature.Prepared p = twoInTwoOut.prepare(List.of(floats("a", 1, 3), floats("b", 1, 3)),
                List.of("product"), NO_LIMIT);

        assertEquals(List.of("product"), p.outputs());
        assertEquals(Set.of("product"), p.outputSet());
    }

    @Test
    void inputsLargerThanTheLimitAreRejected() {
        // two FP32 tensors of 2x3: 48 bytes
        List<NamedTensor> given = List.of(floats("a", 2, 3), floats("b", 2, 3));

        assertEquals("inputs hold 48 bytes, more than the limit of 47", rejection(twoInTwoOut, given, List.of(), 47));
        assertEquals(2, twoInTwoOut.prepare(given, List.of(), 48).rows(), "exactly the limit fits");
    }

    @Test
    void rowsAreTheLeadingDimensionOfABatchableModel() {
        assertEquals(5, mlp.prepare(List.of(floats("x", 5, 4)), List.of(), NO_LIMIT).rows());
        assertEquals(0, mlp.prepare(List.of(floats("x", 0, 4)), List.of(), NO_LIMIT).rows());
    }

    @Test
    void aRequestToAnUnbatchableModelIsOneRowWithNoKey() {
        ModelSignature.Prepared p = scalarInput.prepare(List.of(floats("x", 3, 4), floats("scale")), List.of(),
                NO_LIMIT);

        assertEquals(1, p.rows());
        assertEquals("", p.batchKey());
    }

    @Test
    void theBatchKeyIsTheNonBatchDimensions() {
        String small = conv.prepare(List.of(floats("image", 1, 3, 8, 8)), List.of(), NO_LIMIT).batchKey();
        String smallTwoRows = conv.prepare(List.of(floats("image", 2, 3, 8, 8)), List.of(), NO_LIMIT).batchKey();
        String large = conv.prepare(List.of(floats("image", 1, 3, 16, 16)), List.of(), NO_LIMIT).batchKey();
        String wide = conv.prepare(List.of(floats("image", 1, 3, 8, 16)), List.of(), NO_LIMIT).batchKey();

        assertEquals(small, smallTwoRows, "the row count is not part of the key");
        assertNotEquals(small, large);
        assertNotEquals(small, wide);
        assertNotEquals(large, wide);
        assertEquals(mlp.prepare(List.of(floats("x", 1, 4)), List.of(), NO_LIMIT).batchKey(),
                mlp.prepare(List.of(floats("x", 7, 4)), List.of(), NO_LIMIT).batchKey());
    }

    @Test
    void aSignatureIsBatchableOnlyWhenEveryTensorSharesOneLeadingSymbol() {
        TensorSpec in = new TensorSpec("x", DType.FP32, List.of(TensorSpec.Dim.symbolic("n"), TensorSpec.Dim.fixed(2)));
        TensorSpec outSame = new TensorSpec("y", DType.FP32, List.of(TensorSpec.Dim.symbolic("n")));
        TensorSpec outOther = new TensorSpec("y", DType.FP32, List.of(TensorSpec.Dim.symbolic("m")));
        TensorSpec outUnnamed = new TensorSpec("y", DType.FP32, List.of(TensorSpec.Dim.symbolic("")));

        assertEquals("n", ModelSignature.of(List.of(in), List.of(outSame)).batchSymbol());
        assertEquals("", ModelSignature.of(List.of(in), List.of(outOther)).batchSymbol());
        assertEquals("", ModelSignature.of(List.of(in), List.of(outUnnamed)).batchSymbol());
        assertTrue(ModelSignature.of(List.of(in), List.of(outSame)).batchable());
    }
}
