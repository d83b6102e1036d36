package io.meshinfer.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.meshinfer.testmodels.TestModels;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OrtNativeTest {

    @Test
    void theCopiesOfTheNativeLibrariesAreGoneOnceLoadedAndOnnxRuntimeStillRuns() throws Exception {
        OrtEnvironment env = OrtNative.environment();

        // ONNX Runtime 1.23 says where it copied its libraries, and the copies are gone
        Path dir = OrtNative.extractedTo().orElseThrow(() -> new AssertionError(
                "the binding no longer names its copy directory: check how it cleans up now"));
        assertTrue(dir.getFileName().toString().startsWith("onnxruntime-java"), dir.toString());
        assertFalse(Files.exists(dir), dir + " is still there");

        // the libraries stay loaded: a session still runs
        float[] x = {1, 2, 3, 4};
        try (OrtSession s = env.createSession(TestModels.mlp());
             OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {1, 4});
             OrtSession.Result r = s.run(Map.of("x", in))) {
            float[][] y = (float[][]) r.get(0).getValue();
            assertArrayEquals(TestModels.mlpReference(x, 1), y[0], 1e-6f);
        }
    }

    @Test
    void callingAgainIsHarmless() {
        assertTrue(OrtNative.environment() == OrtNative.environment());
    }
}
