package io.meshinfer.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.api.ErrorKind;
import io.meshinfer.api.InferenceException;
import io.meshinfer.models.OnnxModelBuilder;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testmodels.TestModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link LoadedModel#run} against real ONNX Runtime sessions of the test models. */
class LoadedModelTest {
    @TempDir
    static Path dir;

    private static ModelRuntime runtime;
    private static LoadedModel mlp;
    private static LoadedModel embedding;
    private static LoadedModel twoInTwoOut;
    private static LoadedModel allTypes;
    private static LoadedModel conv;

    @BeforeAll
    static void load() throws Exception {
        runtime = new ModelRuntime(TestModelFiles.settings());
        mlp = runtime.acquire("mlp", TestModelFiles.write(dir, "mlp.onnx", TestModels.mlp()));
        embedding = runtime.acquire("emb", TestModelFiles.write(dir, "emb.onnx", TestModels.int64Embedding()));
        twoInTwoOut = runtime.acquire("two", TestModelFiles.write(dir, "two.onnx", TestModels.twoInTwoOut()));
        allTypes = runtime.acquire("types", TestModelFiles.write(dir, "types.onnx", TestModels.allTypes()));
        conv = runtime.acquire("conv", TestModelFiles.write(dir, "conv.onnx", TestModels.dynamicConv()));
    }

    @AfterAll
    static void close() {
        runtime.close();
    }

    private static Tensor only(List<NamedTensor> outputs, String name) {
        assertEquals(1, outputs.size(), "outputs: " + outputs);
        assertEquals(name, outputs.get(0).name());
        return outputs.get(0).tensor();
    }

    @Test
    void mlpRunMatchesTheJavaReferenceAndCountsRuns() {
        float[] x = {1f, 2f, 3f, 4f, -1f, 0.5f, 0f, 2f, 0f, 0f, 0f, 0f};
        long before = mlp.runCount();

        Tensor y = only(mlp.run(List.of(new NamedTensor("x", Tensor.ofFloats(new long[] {3, 4}, x))), Set.of()), "y");

        assertArrayEquals(new long[] {3, 3}, y.shape());
        assertArrayEquals(TestModels.mlpReference(x, 3), y.floats(), 1e-5f);
        assertEquals(before + 1, mlp.runCount());
    }

    @Test
    void allOutputsComeInSignatureOrder() {
        List<NamedTensor> in = List.of(
                new NamedTensor("a", Tensor.ofFloats(new long[] {1, 3}, 1, 2, 3)),
                new NamedTensor("b", Tensor.ofFloats(new long[] {1, 3}, 4, 5, 6)));

        List<NamedTensor> out = twoInTwoOut.run(in, Set.of());

        assertEquals(List.of("sum", "product"), out.stream().map(NamedTensor::name).toList());
        assertArrayEquals(new float[] {5, 7, 9}, out.get(0).tensor().floats());
        assertArrayEquals(new float[] {4, 10, 18}, out.get(1).tensor().floats());
    }

    @Test
    void onlyTheRequestedOutputIsComputedAndReturned() {
        List<NamedTensor> in = List.of(
                new NamedTensor("a", Tensor.ofFloats(new long[] {1, 3}, 1, 2, 3)),
                new NamedTensor("b", Tensor.ofFloats(new long[] {1, 3}, 4, 5, 6)));

        Tensor product = only(twoInTwoOut.run(in, Set.of("product")), "product");

        assertArrayEquals(new float[] {4, 10, 18}, product.floats());
    }

    @Test
    void anOutOfRangeTokenIsAModelFailure() {
        List<NamedTensor> in = List.of(new NamedTensor("tokens",
                Tensor.ofLongs(new long[] {1, 6}, 0, 1, 2, 3, 4, 16)));

        InferenceException.ModelFailed e = assertThrows(InferenceException.ModelFailed.class,
                () -> embedding.run(in, Set.of()));
        assertEquals(ErrorKind.MODEL_FAILED, e.kind());
        assertTrue(e.getMessage().startsWith("the model failed on this input: "), e.getMessage());
    }

    @Test
    void theSessionStillWorksAfterAModelFailure() {
        assertThrows(InferenceException.ModelFailed.class, () -> embedding.run(List.of(new NamedTensor("tokens",
                Tensor.ofLongs(new long[] {1, 6}, 99, 0, 0, 0, 0, 0))), Set.of()));

        Tensor e = only(embedding.run(List.of(new NamedTensor("tokens",
                Tensor.ofLongs(new long[] {1, 6}, 2, 2, 2, 2, 2, 2))), Set.of()), "embedding");
        assertArrayEquals(new float[] {2f, 1f, -2f, 1f}, e.floats(), 1e-6f);
    }

    @Test
    void everyServedElementTypeRoundTripsThroughOnnxRuntime() {
        byte[] uint8 = new byte[256];
        for (int i = 0; i < 256; i++) {
            uint8[i] = (byte) i;
        }
        long rows = 128;
        double[] fp64 = new double[256];
        int[] int32 = new int[256];
        boolean[] bool = new boolean[256];
        long[] int64 = new long[256];
        Random rnd = new Random(3);
        for (int i = 0; i < 256; i++) {
            fp64[i] = rnd.nextGaussian() * 1e300;
            int32[i] = rnd.nextInt();
            bool[i] = rnd.nextBoolean();
            int64[i] = rnd.nextLong();
        }
        fp64[0] = Double.NaN;
        fp64[1] = Double.NEGATIVE_INFINITY;
        fp64[2] = Double.MIN_VALUE;
        int32[0] = Integer.MIN_VALUE;
        int32[1] = Integer.MAX_VALUE;
        int64[0] = Long.MIN_VALUE;
        int64[1] = Long.MAX_VALUE;
        List<Tensor> inputs = List.of(
                Tensor.ofDoubles(new long[] {rows, 2}, fp64),
                Tensor.ofInts(new long[] {rows, 2}, int32),
                Tensor.ofUint8(new long[] {rows, 2}, uint8),
                Tensor.ofBooleans(new long[] {rows, 2}, bool),
                Tensor.ofLongs(new long[] {rows, 2}, int64));
        List<NamedTensor> in = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            in.add(new NamedTensor(TestModels.ALL_TYPES_INPUTS.get(i), inputs.get(i)));
        }

        List<NamedTensor> out = allTypes.run(in, Set.of());

        assertEquals(5, out.size());
        for (int i = 0; i < inputs.size(); i++) {
            assertEquals(TestModels.ALL_TYPES_INPUTS.get(i) + "_out", out.get(i).name());
            assertTrue(inputs.get(i).contentEquals(out.get(i).tensor()),
                    out.get(i).name() + " differs from its input " + inputs.get(i));
        }
        assertEquals(255.0, out.get(2).tensor().getAsDouble(255), "UINT8 stays unsigned");
    }

    @Test
    void int8AndInt16RoundTripThroughOnnxRuntime() throws Exception {
        byte[] model = OnnxModelBuilder.create("small_ints")
                .input("i8", DType.INT8, OnnxModelBuilder.dims("batch", 3))
                .input("i16", DType.INT16, OnnxModelBuilder.dims("batch", 3))
                .output("i8_out", DType.INT8, OnnxModelBuilder.dims("batch", 3))
                .output("i16_out", DType.INT16, OnnxModelBuilder.dims("batch", 3))
                .node("Identity", List.of("i8"), "i8_out")
                .node("Identity", List.of("i16"), "i16_out")
                .toBytes();
        LoadedModel m = runtime.acquire("small-ints", TestModelFiles.write(dir, "small.onnx", model));
        try {
            Tensor i8 = Tensor.of(DType.INT8, new long[] {2, 3}, new byte[] {-128, -1, 0, 1, 64, 127});
            Tensor i16 = Tensor.of(DType.INT16, new long[] {2, 3}, new short[] {-32768, -1, 0, 1, 300, 32767});

            List<NamedTensor> out = m.run(List.of(new NamedTensor("i8", i8), new NamedTensor("i16", i16)), Set.of());

            assertTrue(i8.contentEquals(out.get(0).tensor()), "INT8: " + out.get(0).tensor());
            assertTrue(i16.contentEquals(out.get(1).tensor()), "INT16: " + out.get(1).tensor());
        } finally {
            runtime.release(m);
        }
    }

    @Test
    void convKeepsSpatialShape() {
        float[] image = new float[3 * 5 * 7];
        Arrays.fill(image, 1f);

        Tensor f = only(conv.run(List.of(new NamedTensor("image", Tensor.ofFloats(new long[] {1, 3, 5, 7}, image))),
                Set.of()), "features");

        assertArrayEquals(new long[] {1, 2, 5, 7}, f.shape());
        // channel 0 is the 3x3 box sum over 3 channels: 27 inside, 12 in a corner (2x2x3)
        assertEquals(12f, f.floats()[0], 1e-6f);
        assertEquals(27f, f.floats()[1 * 7 + 1], 1e-6f);
        // channel 1 is the centre pixel of channel 0 plus 0.5
        assertEquals(1.5f, f.floats()[35], 1e-6f);
    }

    @Test
    void concurrentRunsOnOneSessionStayIndependent() throws Exception {
        ExecutorService callers = Executors.newFixedThreadPool(4);
        try {
            List<float[]> inputs = new ArrayList<>();
            List<Future<float[]>> results = new ArrayList<>();
            Random rnd = new Random(11);
            for (int i = 0; i < 64; i++) {
                int rows = 1 + i % 5;
                float[] x = new float[rows * 4];
                for (int j = 0; j < x.length; j++) {
                    x[j] = rnd.nextFloat() * 4 - 2;
                }
                inputs.add(x);
                results.add(callers.submit(() -> mlp.run(List.of(new NamedTensor("x",
                        Tensor.ofFloats(new long[] {rows, 4}, x))), Set.of()).get(0).tensor().floats()));
            }
            for (int i = 0; i < inputs.size(); i++) {
                float[] x = inputs.get(i);
                assertArrayEquals(TestModels.mlpReference(x, x.length / 4), results.get(i).get(30, TimeUnit.SECONDS),
                        1e-5f, "request " + i);
            }
        } finally {
            callers.shutdownNow();
        }
    }
}
