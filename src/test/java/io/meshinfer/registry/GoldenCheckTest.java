package io.meshinfer.registry;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.api.InferenceException;
import io.meshinfer.runtime.LoadedModel;
import io.meshinfer.runtime.ModelLoadException;
import io.meshinfer.runtime.ModelRuntime;
import io.meshinfer.runtime.TestModelFiles;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testmodels.TestModels;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Golden vectors against real ONNX Runtime sessions, without an actor system: recording,
 * validation of supplied vectors, and the deviation measured when a session does not
 * reproduce them.
 */
class GoldenCheckTest {
    private static final double TOLERANCE = 1e-4;

    @TempDir
    Path dir;

    private final ModelRuntime runtime = new ModelRuntime(TestModelFiles.settings());

    @AfterEach
    void close() {
        runtime.close();
    }

    private LoadedModel load(String name, byte[] bytes) throws ModelLoadException {
        return runtime.acquire(TestModelFiles.sha256(bytes), TestModelFiles.write(dir, name + ".onnx", bytes));
    }

    private static GoldenVectors record(LoadedModel m, int samples, long maxBytes) {
        return GoldenCheck.record(m, samples, 4, maxBytes, TOLERANCE, GoldenVectors.recordedBy("n1"), 42);
    }

    /** {@code g} with {@code delta} added to element 0 of output {@code name} in its first sample. */
    private static GoldenVectors perturbed(GoldenVectors g, String name, double delta) {
        List<GoldenVectors.Sample> samples = new java.util.ArrayList<>(g.samples());
        samples.set(0, perturbed(samples.get(0), name, delta));
        return new GoldenVectors(samples, g.tolerance(), g.source());
    }

    private static GoldenVectors.Sample perturbed(GoldenVectors.Sample s, String name, double delta) {
        {
            Map<String, Tensor> outputs = new HashMap<>(s.outputs());
            Tensor t = outputs.get(name);
            Object data = switch (t.dtype()) {
                case FP32 -> {
                    float[] a = t.floats().clone();
                    a[0] += (float) delta;
                    yield a;
                }
                case INT64 -> {
                    long[] a = t.longs().clone();
                    a[0] += (long) delta;
                    yield a;
                }
                default -> throw new IllegalArgumentException(t.dtype().name());
            };
            outputs.put(name, Tensor.of(t.dtype(), t.shape(), data));
            return new GoldenVectors.Sample(s.inputs(), outputs);
        }
    }

    @Test
    void recordedSamplesAreSeededAndTheModelReproducesThem() throws Exception {
        LoadedModel mlp = load("mlp", TestModels.mlp());
        GoldenVectors g = record(mlp, 4, 1 << 20);
        assertEquals(4, g.samples().size());
        assertEquals("recorded by n1", g.source());
        for (GoldenVectors.Sample s : g.samples()) {
            Tensor x = s.inputs().get("x");
            assertArrayEquals(new long[] {1, 4}, x.shape(), "the batch axis gets one row");
            assertArrayEquals(TestModels.mlpReference(x.floats(), 1), s.outputs().get("y").floats(), 1e-5f);
        }
        assertTrue(g.contentEquals(record(mlp, 4, 1 << 20)), "the same seed records the same vectors");
        assertFalse(g.contentEquals(GoldenCheck.record(mlp, 4, 4, 1 << 20, TOLERANCE, "x", 43)));

        GoldenCheck.Verdict v = GoldenCheck.verify(mlp, g);
        assertTrue(v.passed(), v.detail());
        assertEquals(0.0, v.maxDeviation());
        assertTrue(v.detail().startsWith("4 samples within tolerance"), v.detail());
    }

    @Test
    void recordedInputsFitEverySignature() throws Exception {
        GoldenVectors conv = record(load("conv", TestModels.dynamicConv()), 2, 1 << 20);
        assertArrayEquals(new long[] {1, 3, 4, 4}, conv.samples().get(0).inputs().get("image").shape(),
                "dynamic dimensions other than the batch axis get the configured size");
        assertArrayEquals(new long[] {1, 2, 4, 4}, conv.samples().get(0).outputs().get("features").shape());

        GoldenVectors tokens = record(load("tokens", TestModels.int64Embedding()), 4, 1 << 20);
        for (GoldenVectors.Sample s : tokens.samples()) {
            for (long id : s.inputs().get("tokens").longs()) {
                assertTrue(id == 0 || id == 1, "integer inputs are 0 or 1, valid embedding indices: " + id);
            }
        }
        LoadedModel types = load("types", TestModels.allTypes());
        GoldenVectors all = record(types, 3, 1 << 20);
        assertEquals(5, all.samples().get(0).inputs().size());
        assertEquals(5, all.samples().get(0).outputs().size());
        assertTrue(GoldenCheck.verify(types, all).passed());

        GoldenVectors scalar = record(load("scalar", TestModels.scalarInput()), 1, 1 << 20);
        assertArrayEquals(new long[] {}, scalar.samples().get(0).inputs().get("scale").shape());
        GoldenVectors fixed = record(load("fixed", TestModels.noBatchAxis()), 1, 1 << 20);
        assertArrayEquals(new long[] {3, 4}, fixed.samples().get(0).inputs().get("m").shape());
    }

    @Test
    void recordingStopsAtTheByteLimit() throws Exception {
        LoadedModel mlp = load("mlp", TestModels.mlp());
        long oneSample = 4 * 4 + 3 * 4;
        GoldenVectors g = record(mlp, 4, oneSample * 2 + 5);
        assertEquals(2, g.samples().size());
        assertTrue(g.byteSize() <= oneSample * 2 + 5);
        assertNull(record(mlp, 4, 10), "not even one sample's input fits: no golden vectors");
    }

    @Test
    void outputsBeyondTheToleranceFailWithTheirDeviation() throws Exception {
        LoadedModel mlp = load("mlp", TestModels.mlp());
        GoldenVectors g = record(mlp, 3, 1 << 20);

        GoldenCheck.Verdict off = GoldenCheck.verify(mlp, perturbed(g, "y", 0.5));
        assertFalse(off.passed());
        assertEquals(0.5, off.maxDeviation(), 1e-6);
        assertTrue(off.detail().startsWith("output 'y' in sample 1 deviates by 0.5"), off.detail());
        assertTrue(off.detail().contains("(tolerance 1.0E-4)"), off.detail());

        GoldenCheck.Verdict near = GoldenCheck.verify(mlp, perturbed(g, "y", 2e-5));
        assertTrue(near.passed(), near.detail());
        assertTrue(near.maxDeviation() > 0 && near.maxDeviation() < TOLERANCE, "deviation " + near.maxDeviation());
    }

    @Test
    void integerOutputsMustMatchExactly() throws Exception {
        LoadedModel types = load("types", TestModels.allTypes());
        GoldenVectors g = GoldenCheck.record(types, 1, 4, 1 << 20, 10.0, "t", 1);
        GoldenCheck.Verdict v = GoldenCheck.verify(types, perturbed(g, "int64_out", 1));
        assertFalse(v.passed(), "a tolerance of 10 does not excuse an integer that differs by 1");
        assertEquals(1.0, v.maxDeviation());
        assertTrue(v.detail().contains("INT64 must match exactly"), v.detail());
    }

    @Test
    void outputsOfAnotherShapeCannotBeComparedAndFail() throws Exception {
        LoadedModel mlp = load("mlp", TestModels.mlp());
        GoldenVectors g = record(mlp, 1, 1 << 20);
        GoldenVectors.Sample s = g.samples().get(0);
        GoldenVectors wrong = new GoldenVectors(List.of(new GoldenVectors.Sample(s.inputs(),
                Map.of("y", Tensor.ofFloats(new long[] {2, 3}, new float[6])))), TOLERANCE, GoldenVectors.SUPPLIED);
        GoldenCheck.Verdict v = GoldenCheck.verify(mlp, wrong);
        assertFalse(v.passed());
        assertEquals(Double.POSITIVE_INFINITY, v.maxDeviation());
        assertEquals("output 'y' is FP32[1, 3], the golden vectors expect FP32[2, 3]", v.detail());
    }

    @Test
    void suppliedVectorsAreValidatedAgainstTheSignature() throws Exception {
        LoadedModel mlp = load("mlp", TestModels.mlp());
        Tensor x = Tensor.ofFloats(new long[] {1, 4}, 1, 2, 3, 4);
        Tensor y = Tensor.ofFloats(new long[] {1, 3}, 1, 2, 3);
        assertEquals("golden vectors: unexpected input 'z' (model inputs: x)", assertThrows(
                InferenceException.InvalidInput.class, () -> GoldenCheck.validate(supplied(Map.of("z", x),
                        Map.of("y", y)), mlp.signature(), 1 << 20)).getMessage());
        assertEquals("golden vectors: input 'x': shape [1, 5] does not match the model's [batch, 4]"
                + " (dimension 1 must be 4)", assertThrows(InferenceException.InvalidInput.class, () ->
                GoldenCheck.validate(supplied(Map.of("x", Tensor.ofFloats(new long[] {1, 5}, new float[5])),
                        Map.of("y", y)), mlp.signature(), 1 << 20)).getMessage());
        assertEquals("golden vectors: unknown output 'z' (model outputs: y)", assertThrows(
                InferenceException.InvalidInput.class, () -> GoldenCheck.validate(supplied(Map.of("x", x),
                        Map.of("z", y)), mlp.signature(), 1 << 20)).getMessage());
        assertEquals("golden vectors: output 'y': datatype INT64 does not match the model's FP32", assertThrows(
                InferenceException.InvalidInput.class, () -> GoldenCheck.validate(supplied(Map.of("x", x),
                        Map.of("y", Tensor.ofLongs(new long[] {1, 3}, 1, 2, 3))), mlp.signature(), 1 << 20))
                .getMessage());
        assertTrue(assertThrows(InferenceException.InvalidInput.class, () -> GoldenCheck.validate(
                supplied(Map.of("x", x), Map.of("y", y)), mlp.signature(), 20)).getMessage()
                .startsWith("the golden vectors hold 28 bytes of tensor data, more than the limit of 20"));
        GoldenCheck.validate(supplied(Map.of("x", x), Map.of("y", y)), mlp.signature(), 1 << 20);
    }

    private static GoldenVectors supplied(Map<String, Tensor> inputs, Map<String, Tensor> outputs) {
        return new GoldenVectors(List.of(new GoldenVectors.Sample(inputs, outputs)), TOLERANCE,
                GoldenVectors.SUPPLIED);
    }

    @Test
    void attestorRefusesADeviatingSessionAndKeepsEveryResult() throws Exception {
        byte[] bytes = TestModels.mlp();
        String sha = TestModelFiles.sha256(bytes);
        Path file = TestModelFiles.write(dir, "mlp.onnx", bytes);
        Attestor attestor = new Attestor(new AttestationSettings(4, 4, TOLERANCE, 1 << 16, Duration.ofSeconds(1)),
                runtime, "n1", "eu", () -> "pekko://meshinfer@127.0.0.1:1");
        List<Attestation> published = new java.util.concurrent.CopyOnWriteArrayList<>();
        attestor.sink(published::add);

        Attestor.Inspection inspected = attestor.inspect(sha, file, null, true);
        assertEquals(4, inspected.golden().samples().size());
        assertEquals(Map.of(), runtime.loadedSessions(), "the deploy-time check releases its session");

        LoadedModel model = runtime.acquire(sha, file);
        ModelManifest good = manifest("1", sha, inspected.golden());
        attestor.attest(good, model);
        ModelManifest bad = manifest("2", sha, perturbed(inspected.golden(), "y", 0.25));
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> attestor.attest(bad, model));
        assertTrue(e.getMessage().startsWith("consistency attestation failed on node n1: output 'y' in sample 1"
                + " deviates by 0.25"), e.getMessage());

        assertEquals(2, published.size());
        Attestation ok = attestor.attestations("m", "1", sha).get(0);
        assertTrue(ok.passed());
        assertEquals("eu", ok.region());
        assertEquals("pekko://meshinfer@127.0.0.1:1", ok.address());
        Attestation failed = attestor.attestations("m", "2", null).get(0);
        assertFalse(failed.passed());
        assertEquals(0.25, failed.maxDeviation(), 1e-6);
        assertTrue(failed.runtimeVersion().startsWith("onnxruntime "), failed.runtimeVersion());

        attestor.retain(Map.of("m@1", sha));
        assertEquals(List.of(ok), List.copyOf(attestor.local()), "results of undeployed versions are forgotten");
        runtime.release(model);

        InferenceException.InvalidInput refused = assertThrows(InferenceException.InvalidInput.class,
                () -> attestor.inspect(sha, file, bad.golden(), false));
        assertTrue(refused.getMessage().startsWith("the model does not reproduce the supplied golden vectors on node"
                + " n1: output 'y' in sample 1 deviates by 0.25"), refused.getMessage());
        assertEquals(Map.of(), runtime.loadedSessions());
    }

    private static ModelManifest manifest(String version, String sha, GoldenVectors golden) {
        return new ModelManifest("m", version, sha, 1, null, 1, null, null, null, "n1", 0, "test", golden, 0, null);
    }
}
