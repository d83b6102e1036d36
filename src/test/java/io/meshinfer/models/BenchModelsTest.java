package io.meshinfer.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnxruntime.TensorInfo;
import io.meshinfer.models.BenchModels.BenchModel;
import io.meshinfer.models.BenchModels.Output;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class BenchModelsTest {

    @ParameterizedTest
    @ValueSource(strings = {"mlp", "cnn", "transformer"})
    void runsBatchOfTwoWithFiniteOutputsOfTheDeclaredShape(String name) throws Exception {
        BenchModel model = BenchModels.byName(name);

        List<NamedTensor> out = OrtTestRunner.run(model.onnx(), model.randomInputs(2, 7));

        assertEquals(model.outputs().size(), out.size());
        for (Output declared : model.outputs()) {
            Tensor t = NamedTensor.find(out, declared.name());
            assertNotNull(t, "missing output " + declared.name());
            assertEquals(declared.dtype(), t.dtype());
            assertEquals(2, t.dim(0));
            for (int i = 0; i < declared.rowShape().size(); i++) {
                assertEquals(declared.rowShape().get(i), t.dim(i + 1));
            }
            for (float v : t.floats()) {
                assertTrue(Float.isFinite(v), name + " produced " + v);
            }
        }
        Tensor other = OrtTestRunner.run(model.onnx(), model.randomInputs(2, 8)).get(0).tensor();
        assertTrue(out.get(0).tensor().maxAbsDifference(other) > 0, "different inputs should give different outputs");
    }

    @ParameterizedTest
    @ValueSource(strings = {"mlp", "cnn", "transformer"})
    void everyInputAndOutputHasTheSymbolicBatchDimension(String name) throws Exception {
        Map<String, TensorInfo> signature = OrtTestRunner.signature(BenchModels.byName(name).onnx());

        for (Map.Entry<String, TensorInfo> e : signature.entrySet()) {
            assertEquals("batch", e.getValue().getDimensionNames()[0], e.getKey());
            assertEquals(-1, e.getValue().getShape()[0], e.getKey());
        }
    }

    @Test
    void mlpMatchesAPlainJavaComputationWithTheSameWeights() throws Exception {
        BenchModel mlp = BenchModels.mlp();
        List<NamedTensor> inputs = mlp.randomInputs(2, 11);
        ModelProto proto = ModelProto.parseFrom(mlp.onnx());

        float[] x = inputs.get(0).tensor().floats();
        float[] h1 = dense(x, 2, weights(proto, "fc1.weight"), weights(proto, "fc1.bias"), true);
        float[] h2 = dense(h1, 2, weights(proto, "fc2.weight"), weights(proto, "fc2.bias"), true);
        float[] expected = dense(h2, 2, weights(proto, "fc3.weight"), weights(proto, "fc3.bias"), false);

        float[] actual = OrtTestRunner.run(mlp.onnx(), inputs).get(0).tensor().floats();
        assertArrayEquals(expected, actual, 1e-4f);
    }

    @Test
    void costsAreCountedFromTheArchitecture() {
        BenchModel mlp = BenchModels.mlp();
        assertEquals(2L * (256 * 1024 + 1024 * 1024 + 1024 * 10), mlp.flopsPerSample());
        assertEquals(4L * (256 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 10 + 10), mlp.parameterBytes());

        BenchModel cnn = BenchModels.cnn();
        assertTrue(cnn.flopsPerSample() > 450_000_000L && cnn.flopsPerSample() < 600_000_000L,
                "cnn FLOPs " + cnn.flopsPerSample());

        BenchModel transformer = BenchModels.transformer();
        assertTrue(transformer.flopsPerSample() > 40_000_000L, "transformer FLOPs " + transformer.flopsPerSample());
        assertTrue(transformer.parameterBytes() > 4L * 1000 * 128, "holds at least the token embedding");
    }

    @Test
    void randomInputsAreValidAndDeterministicPerSeed() {
        BenchModel transformer = BenchModels.transformer();

        Tensor tokens = transformer.randomInputs(3, 5).get(0).tensor();

        assertArrayEquals(new long[] {3, 64}, tokens.shape());
        for (long t : tokens.longs()) {
            assertTrue(t >= 0 && t < 1000, "token id " + t);
        }
        assertTrue(tokens.contentEquals(transformer.randomInputs(3, 5).get(0).tensor()));
        assertFalse(tokens.contentEquals(transformer.randomInputs(3, 6).get(0).tensor()));
        assertThrows(IllegalArgumentException.class, () -> transformer.randomInputs(0, 5));
    }

    @Test
    void buildingIsDeterministicAndOnnxIsDefensivelyCopied() {
        BenchModel a = BenchModels.cnn();
        byte[] bytes = a.onnx();
        bytes[0] ^= 1;

        assertArrayEquals(BenchModels.cnn().onnx(), a.onnx());
    }

    @Test
    void unknownNameListsTheKnownModels() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BenchModels.byName("vgg"));
        assertTrue(e.getMessage().contains("transformer"), e.getMessage());
        assertEquals(BenchModels.NAMES, BenchModels.all().stream().map(BenchModel::name).toList());
    }

    private static float[] weights(ModelProto model, String name) {
        for (TensorProto t : model.getGraph().getInitializerList()) {
            if (t.getName().equals(name)) {
                FloatBuffer fb = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
                float[] out = new float[fb.remaining()];
                fb.get(out);
                return out;
            }
        }
        throw new AssertionError("no initializer " + name);
    }

    /** rows × in times in × out (row-major), plus bias, optionally through Relu. */
    private static float[] dense(float[] x, int rows, float[] w, float[] bias, boolean relu) {
        int out = bias.length;
        int in = w.length / out;
        float[] y = new float[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < out; j++) {
                double sum = bias[j];
                for (int i = 0; i < in; i++) {
                    sum += (double) x[r * in + i] * w[i * out + j];
                }
                y[r * out + j] = relu ? (float) Math.max(0, sum) : (float) sum;
            }
        }
        return y;
    }
}
