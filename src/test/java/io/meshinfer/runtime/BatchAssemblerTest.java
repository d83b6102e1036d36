package io.meshinfer.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.api.InferenceException;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Concatenation along the batch axis and splitting back, without ONNX Runtime. */
class BatchAssemblerTest {

    /** A tensor of {@code dtype} whose elements are distinct (as far as the type allows) and start at {@code seed}. */
    private static Tensor tensor(DType dtype, int seed, long... shape) {
        int n = (int) Tensor.elementCount(shape);
        Object data = dtype.newArray(n);
        for (int i = 0; i < n; i++) {
            int v = seed + i;
            switch (dtype) {
                case FP32 -> Array.setFloat(data, i, v + 0.25f);
                case FP64 -> Array.setDouble(data, i, v + 0.125);
                case INT8, UINT8 -> Array.setByte(data, i, (byte) v);
                case INT16 -> Array.setShort(data, i, (short) (v * 7));
                case INT32 -> Array.setInt(data, i, v * 1_000_003);
                case INT64 -> Array.setLong(data, i, v * 10_000_000_019L);
                case BOOL -> Array.setBoolean(data, i, (v * 31) % 3 == 0);
                default -> throw new IllegalStateException();
            }
        }
        return Tensor.of(dtype, shape, data);
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void concatThenSplitRoundTripsEveryDtype(DType dtype) {
        int[] rows = {1, 2, 3};
        List<List<NamedTensor>> requests = new ArrayList<>();
        int seed = 0;
        for (int r : rows) {
            requests.add(List.of(
                    new NamedTensor("p", tensor(dtype, seed, r, 2, 3)),
                    new NamedTensor("q", tensor(dtype, seed + 500, r, 4))));
            seed += 100;
        }

        List<NamedTensor> batch = BatchAssembler.concat(requests);

        assertEquals(List.of("p", "q"), batch.stream().map(NamedTensor::name).toList());
        assertArrayEquals(new long[] {6, 2, 3}, batch.get(0).tensor().shape());
        assertArrayEquals(new long[] {6, 4}, batch.get(1).tensor().shape());
        assertEquals(dtype, batch.get(0).tensor().dtype());
        // the batch is each request's data, one after the other
        int offset = 0;
        for (List<NamedTensor> request : requests) {
            Tensor part = request.get(0).tensor();
            for (int i = 0; i < part.size(); i++) {
                assertEquals(part.getAsDouble(i), batch.get(0).tensor().getAsDouble(offset + i));
            }
            offset += part.size();
        }

        List<List<NamedTensor>> split = BatchAssembler.split(batch, rows);

        assertEquals(3, split.size());
        for (int i = 0; i < rows.length; i++) {
            for (int j = 0; j < 2; j++) {
                NamedTensor expected = requests.get(i).get(j);
                NamedTensor actual = split.get(i).get(j);
                assertEquals(expected.name(), actual.name());
                assertTrue(expected.tensor().contentEquals(actual.tensor()),
                        "request " + i + " " + expected.name() + ": " + actual.tensor());
            }
        }
    }

    @Test
    void aRequestWithZeroRowsGetsAnEmptySlice() {
        List<NamedTensor> outputs = List.of(new NamedTensor("y", tensor(DType.FP32, 0, 3, 2)));

        List<List<NamedTensor>> split = BatchAssembler.split(outputs, new int[] {2, 0, 1});

        assertArrayEquals(new long[] {2, 2}, split.get(0).get(0).tensor().shape());
        assertArrayEquals(new long[] {0, 2}, split.get(1).get(0).tensor().shape());
        assertArrayEquals(new long[] {1, 2}, split.get(2).get(0).tensor().shape());
        assertArrayEquals(new float[] {4.25f, 5.25f}, split.get(2).get(0).tensor().floats());
    }

    @Test
    void oneRequestIsPassedThroughUnchanged() {
        List<NamedTensor> only = List.of(new NamedTensor("x", tensor(DType.FP32, 0, 2, 4)));

        assertSame(only, BatchAssembler.concat(List.of(only)));
        assertSame(only, BatchAssembler.split(only, new int[] {2}).get(0));
    }

    @Test
    void splitRejectsAnOutputWhoseLeadingDimensionIsNotTheBatch() {
        List<NamedTensor> outputs = List.of(
                new NamedTensor("ok", tensor(DType.FP32, 0, 4, 3)),
                new NamedTensor("y", tensor(DType.FP32, 0, 5, 3)));

        InferenceException.ModelFailed e = assertThrows(InferenceException.ModelFailed.class,
                () -> BatchAssembler.split(outputs, new int[] {1, 3}));
        assertEquals("output 'y' has shape FP32[5, 3], which does not keep the batch of 4 rows on axis 0",
                e.getMessage());
    }

    @Test
    void splitRejectsARankZeroOutputOfABatch() {
        List<NamedTensor> outputs = List.of(new NamedTensor("total", Tensor.ofFloats(new long[0], 1f)));

        InferenceException.ModelFailed e = assertThrows(InferenceException.ModelFailed.class,
                () -> BatchAssembler.split(outputs, new int[] {1, 1}));
        assertEquals("output 'total' has shape FP32[], which does not keep the batch of 2 rows on axis 0",
                e.getMessage());
    }

    @Test
    void concatRejectsDifferentNonBatchDimensions() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BatchAssembler.concatRows(
                List.of(tensor(DType.FP32, 0, 1, 4), tensor(DType.FP32, 0, 1, 5))));
        assertEquals("cannot concatenate FP32[1, 4] and FP32[1, 5]", e.getMessage());
    }

    @Test
    void concatRejectsDifferentTypesAndRanks() {
        assertThrows(IllegalArgumentException.class, () -> BatchAssembler.concatRows(
                List.of(tensor(DType.FP32, 0, 1, 4), tensor(DType.FP64, 0, 1, 4))));
        assertThrows(IllegalArgumentException.class, () -> BatchAssembler.concatRows(
                List.of(tensor(DType.FP32, 0, 1, 4), tensor(DType.FP32, 0, 1, 4, 1))));
    }

    @Test
    void concatDoesNotChangeItsInputs() {
        Tensor a = tensor(DType.INT32, 0, 2, 2);
        Tensor b = tensor(DType.INT32, 10, 1, 2);
        int[] aBefore = a.ints().clone();

        Tensor batch = BatchAssembler.concatRows(List.of(a, b));

        assertArrayEquals(new long[] {3, 2}, batch.shape());
        assertArrayEquals(new long[] {2, 2}, a.shape());
        assertArrayEquals(aBefore, a.ints());
    }
}
