package io.meshinfer.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.TensorInfo;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoModelTest {

    @Test
    void bundledResourceIsExactlyWhatTheGeneratorBuilds() {
        assertArrayEquals(DemoModel.build(), DemoModel.load(),
                "src/main/resources/models/sensor-health.onnx drifted from DemoModel.build(); "
                        + "regenerate it with DemoModel.main");
    }

    @Test
    void generatorIsDeterministic() {
        assertArrayEquals(DemoModel.build(), DemoModel.build());
    }

    @Test
    void ortSeesTheDeclaredSignatureWithASymbolicBatch() throws Exception {
        Map<String, TensorInfo> signature = OrtTestRunner.signature(DemoModel.load());

        assertEquals(List.of(DemoModel.INPUT, DemoModel.OUTPUT), List.copyOf(signature.keySet()));
        TensorInfo in = signature.get(DemoModel.INPUT);
        TensorInfo out = signature.get(DemoModel.OUTPUT);
        assertArrayEquals(new long[] {-1, DemoModel.FEATURES}, in.getShape());
        assertArrayEquals(new long[] {-1, DemoModel.CLASSES.size()}, out.getShape());
        assertEquals("batch", in.getDimensionNames()[0]);
        assertEquals("batch", out.getDimensionNames()[0]);
    }

    @Test
    void probabilitiesOfEveryRowSumToOne() throws Exception {
        int rows = 16;
        float[] features = new float[rows * DemoModel.FEATURES];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(DemoModel.sampleFeatures(r), 0, features, r * DemoModel.FEATURES, DemoModel.FEATURES);
        }

        List<NamedTensor> out = OrtTestRunner.run(DemoModel.load(), List.of(new NamedTensor(DemoModel.INPUT,
                Tensor.ofFloats(new long[] {rows, DemoModel.FEATURES}, features))));

        Tensor p = NamedTensor.find(out, DemoModel.OUTPUT);
        assertArrayEquals(new long[] {rows, 3}, p.shape());
        float[] values = p.floats();
        boolean anyDiffers = false;
        for (int r = 0; r < rows; r++) {
            double sum = 0;
            for (int c = 0; c < 3; c++) {
                float v = values[r * 3 + c];
                assertTrue(v >= 0 && v <= 1, "probability out of [0, 1]: " + v);
                sum += v;
            }
            assertEquals(1.0, sum, 1e-5);
            anyDiffers |= values[r * 3] != values[0];
        }
        assertTrue(anyDiffers, "different inputs should give different probabilities");
    }

    @Test
    void sampleFeaturesAreDeterministicPerSeed() {
        assertArrayEquals(DemoModel.sampleFeatures(42), DemoModel.sampleFeatures(42));
        assertFalse(Arrays.equals(DemoModel.sampleFeatures(42), DemoModel.sampleFeatures(43)));
        assertEquals(DemoModel.FEATURES, DemoModel.sampleFeatures(7).length);
    }

    @Test
    void mainWritesTheModelFile(@TempDir Path dir) throws Exception {
        Path target = dir.resolve("nested/sensor-health.onnx");

        DemoModel.main(new String[] {target.toString()});

        assertArrayEquals(DemoModel.build(), Files.readAllBytes(target));
    }
}
