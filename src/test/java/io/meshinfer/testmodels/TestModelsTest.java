package io.meshinfer.testmodels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.TensorInfo;
import io.meshinfer.models.OrtTestRunner;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TestModelsTest {

    private static Tensor runOne(byte[] model, NamedTensor... inputs) throws OrtException {
        List<NamedTensor> out = OrtTestRunner.run(model, List.of(inputs));
        assertEquals(1, out.size());
        return out.get(0).tensor();
    }

    @Test
    void mlpMatchesItsJavaReference() throws Exception {
        float[] x = {1f, 2f, 3f, 4f, -1f, 0.5f, 0f, 2f, 0f, 0f, 0f, 0f};

        Tensor y = runOne(TestModels.mlp(), new NamedTensor("x", Tensor.ofFloats(new long[] {3, 4}, x)));

        assertArrayEquals(new long[] {3, 3}, y.shape());
        assertArrayEquals(TestModels.mlpReference(x, 3), y.floats(), 1e-5f);
    }

    @Test
    void int64EmbeddingAveragesTableRows() throws Exception {
        long[] tokens = {0, 1, 2, 3, 4, 5, 15, 15, 15, 15, 15, -1};

        Tensor e = runOne(TestModels.int64Embedding(),
                new NamedTensor("tokens", Tensor.ofLongs(new long[] {2, 6}, tokens)));

        // row 0: mean of 0..5 is 2.5; row 1: all ids are 15 (-1 counts from the end)
        assertArrayEquals(new long[] {2, 4}, e.shape());
        assertArrayEquals(new float[] {2.5f, 1.25f, -2.5f, 1f, 15f, 7.5f, -15f, 1f}, e.floats(), 1e-6f);
    }

    @Test
    void int64EmbeddingFailsOnAnOutOfRangeToken() {
        long[] tokens = {0, 1, 2, 3, 4, 16};

        assertThrows(OrtException.class, () -> OrtTestRunner.run(TestModels.int64Embedding(),
                List.of(new NamedTensor("tokens", Tensor.ofLongs(new long[] {1, 6}, tokens)))));
    }

    @Test
    void twoInTwoOutAddsAndMultiplies() throws Exception {
        Tensor a = Tensor.ofFloats(new long[] {2, 3}, 1, 2, 3, 4, 5, 6);
        Tensor b = Tensor.ofFloats(new long[] {2, 3}, 2, 2, 2, -1, 0, 0.5f);

        List<NamedTensor> out = OrtTestRunner.run(TestModels.twoInTwoOut(),
                List.of(new NamedTensor("a", a), new NamedTensor("b", b)));

        assertArrayEquals(new float[] {3, 4, 5, 3, 5, 6.5f}, NamedTensor.find(out, "sum").floats());
        assertArrayEquals(new float[] {2, 4, 6, -4, 0, 3}, NamedTensor.find(out, "product").floats());
    }

    @Test
    void noBatchAxisDoublesAFixedMatrix() throws Exception {
        float[] m = new float[12];
        for (int i = 0; i < m.length; i++) {
            m[i] = i;
        }

        Tensor t = runOne(TestModels.noBatchAxis(), new NamedTensor("m", Tensor.ofFloats(new long[] {3, 4}, m)));

        assertArrayEquals(new long[] {3, 4}, t.shape());
        assertEquals(22f, t.floats()[11]);
        Map<String, TensorInfo> signature = OrtTestRunner.signature(TestModels.noBatchAxis());
        assertArrayEquals(new long[] {3, 4}, signature.get("m").getShape());
    }

    @Test
    void scalarInputScalesEveryElement() throws Exception {
        Tensor x = Tensor.ofFloats(new long[] {2, 4}, 1, 2, 3, 4, 5, 6, 7, 8);

        List<NamedTensor> out = OrtTestRunner.run(TestModels.scalarInput(), List.of(
                new NamedTensor("x", x), new NamedTensor("scale", Tensor.ofFloats(new long[0], 0.5f))));

        assertArrayEquals(new float[] {0.5f, 1, 1.5f, 2, 2.5f, 3, 3.5f, 4}, NamedTensor.find(out, "y").floats());
        assertTrue(OrtTestRunner.signature(TestModels.scalarInput()).get("scale").isScalar());
    }

    @Test
    void dynamicConvKeepsAnyHeightAndWidth() throws Exception {
        int h = 5;
        int w = 7;
        float[] image = new float[3 * h * w];
        Arrays.fill(image, 1f);

        Tensor f = runOne(TestModels.dynamicConv(),
                new NamedTensor("image", Tensor.ofFloats(new long[] {1, 3, h, w}, image)));

        assertArrayEquals(new long[] {1, 2, h, w}, f.shape());
        float[] v = f.floats();
        assertEquals(27f, v[2 * w + 3], "interior: 3×3 window over 3 channels");
        assertEquals(12f, v[0], "corner: 2×2 window over 3 channels");
        assertEquals(1.5f, v[h * w + 2 * w + 3], "channel 1: centre pixel plus bias");
        String[] dims = OrtTestRunner.signature(TestModels.dynamicConv()).get("features").getDimensionNames();
        assertArrayEquals(new String[] {"batch", "", "height", "width"}, dims);
    }

    @Test
    void allTypesPassEveryTensorThroughUnchanged() throws Exception {
        long[] shape = {2, 2};
        List<NamedTensor> inputs = List.of(
                new NamedTensor("fp64", Tensor.ofDoubles(shape, 1.5, -2.25, Double.MAX_VALUE, 0)),
                new NamedTensor("int32", Tensor.ofInts(shape, 1, -2, Integer.MAX_VALUE, Integer.MIN_VALUE)),
                new NamedTensor("uint8", Tensor.ofUint8(shape, (byte) 0, (byte) 1, (byte) 128, (byte) 255)),
                new NamedTensor("bool", Tensor.ofBooleans(shape, true, false, false, true)),
                new NamedTensor("int64", Tensor.ofLongs(shape, 1, -2, Long.MAX_VALUE, Long.MIN_VALUE)));

        List<NamedTensor> out = OrtTestRunner.run(TestModels.allTypes(), inputs);

        assertEquals(5, out.size());
        for (NamedTensor in : inputs) {
            Tensor echoed = NamedTensor.find(out, in.name() + "_out");
            assertTrue(in.tensor().contentEquals(echoed), in.name() + " changed: " + echoed);
        }
        assertEquals(DType.UINT8, NamedTensor.find(out, "uint8_out").dtype());
    }

    @Test
    void batchOnSecondAxisAddsOne() throws Exception {
        float[] state = new float[2 * 3 * 3];

        Tensor next = runOne(TestModels.batchOnSecondAxis(),
                new NamedTensor("state", Tensor.ofFloats(new long[] {2, 3, 3}, state)));

        assertArrayEquals(new long[] {2, 3, 3}, next.shape());
        float[] ones = new float[18];
        Arrays.fill(ones, 1f);
        assertArrayEquals(ones, next.floats());
        assertArrayEquals(new String[] {"", "batch", ""},
                OrtTestRunner.signature(TestModels.batchOnSecondAxis()).get("state").getDimensionNames());
    }

    @Test
    void everyModelIsDeterministic() {
        assertArrayEquals(TestModels.mlp(), TestModels.mlp());
        assertArrayEquals(TestModels.allTypes(), TestModels.allTypes());
        assertArrayEquals(TestModels.dynamicConv(), TestModels.dynamicConv());
    }
}
