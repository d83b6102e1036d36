package io.meshinfer.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.typesafe.config.ConfigFactory;
import io.meshinfer.api.InferenceException;
import io.meshinfer.models.OnnxModelBuilder;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testmodels.TestModels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The node-local runtime with real ONNX Runtime sessions: sharing by sha256, the load
 * failures a deploy can hit, session settings, and the signature read from each test model.
 * Each test has its own {@link ModelRuntime}, so the loaded-session map starts empty.
 */
class ModelRuntimeTest {
    private static final float[] MLP_X = {1f, 2f, 3f, 4f, -1f, 0.5f, 0f, 2f};

    @TempDir
    Path dir;

    private Path file(String name, byte[] bytes) {
        return TestModelFiles.write(dir, name, bytes);
    }

    private static List<NamedTensor> mlpInput() {
        return List.of(new NamedTensor("x", Tensor.ofFloats(new long[] {2, 4}, MLP_X)));
    }

    // ---- sharing sessions by sha256 -------------------------------------------------------------

    @Test
    void twoAcquiresOfOneHashShareOneSession() throws Exception {
        byte[] bytes = TestModels.mlp();
        String sha = TestModelFiles.sha256(bytes);
        Path f = file("mlp.onnx", bytes);
        try (ModelRuntime runtime = new ModelRuntime(TestModelFiles.settings())) {
            LoadedModel first = runtime.acquire(sha, f);
            LoadedModel second = runtime.acquire(sha, f);

            assertSame(first, second);
            assertEquals(Map.of(sha, 2), runtime.loadedSessions());
            assertEquals(sha, first.sha256());
            assertEquals(bytes.length, first.fileBytes());
            assertFalse(first.isClosed());

            runtime.release(first);
            assertEquals(Map.of(sha, 1), runtime.loadedSessions());
            assertFalse(second.isClosed(), "a session with a holder left must stay open");
            assertEquals(3, second.run(mlpInput(), Set.of()).get(0).tensor().dim(1));

            runtime.release(second);
            assertTrue(second.isClosed());
            assertEquals(Map.of(), runtime.loadedSessions());
        }
    }

    @Test
    void aSecondHolderDoesNotReadTheFileAgain() throws Exception {
        byte[] bytes = TestModels.mlp();
        String sha = TestModelFiles.sha256(bytes);
        Path f = file("mlp.onnx", bytes);
        try (ModelRuntime runtime = new ModelRuntime(TestModelFiles.settings())) {
            LoadedModel first = runtime.acquire(sha, f);
            // the session is found by hash; the path is not even looked at
            LoadedModel second = runtime.acquire(sha, dir.resolve("gone.onnx"));

            assertSame(first, second);
            runtime.release(first);
            runtime.release(second);
        }
    }

    @Test
    void concurrentAcquiresOfOneHashLoadItOnce() throws Exception {
        byte[] bytes = TestModels.mlp();
        Path f = file("mlp.onnx", bytes);
        ExecutorService threads = Executors.newFixedThreadPool(4);
        try (ModelRuntime runtime = new ModelRuntime(TestModelFiles.settings())) {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<LoadedModel>> acquired = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                acquired.add(threads.submit(() -> {
                    go.await(30, TimeUnit.SECONDS);
                    return runtime.acquire("mlp", f);
                }));
            }
            go.countDown();
            Set<LoadedModel> distinct = new HashSet<>();
            for (Future<LoadedModel> a : acquired) {
                distinct.add(a.get(30, TimeUnit.SECONDS));
            }

            assertEquals(1, distinct.size(), "one session for every holder");
            assertEquals(Map.of("mlp", 8), runtime.loadedSessions());
            LoadedModel m = distinct.iterator().next();
            List<Future<?>> released = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                released.add(threads.submit(() -> runtime.release(m)));
            }
            for (Future<?> r : released) {
                r.get(30, TimeUnit.SECONDS);
            }
            assertTrue(m.isClosed());
            assertEquals(Map.of(), runtime.loadedSessions());
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void runOnAReleasedModelIsUnavailable() throws Exception {
        byte[] bytes = TestModels.mlp();
        String sha = TestModelFiles.sha256(bytes);
        try (ModelRuntime runtime = new ModelRuntime(TestModelFiles.settings())) {
            LoadedModel m = runtime.acquire(sha, file("mlp.onnx", bytes));
            runtime.release(m);

            InferenceException.Unavailable e = assertThrows(InferenceException.Unavailable.class,
                    () -> m.run(mlpInput(), Set.of()));
            assertEquals("model " + sha + " has been unloaded", e.getMessage());
        }
    }

    @Test
    void releasingAModelNoLongerHeldIsRejected() throws Exception {
        byte[] bytes = TestModels.mlp();
        try (ModelRuntime runtime = new ModelRuntime(TestModelFiles.settings())) {
            LoadedModel m = runtime.acquire("abc", file("mlp.onnx", bytes));
            runtime.release(m);

            IllegalStateException e = assertThrows(IllegalStateException.class, () -> runtime.release(m));
            assertEquals("model abc is not held", e.getMessage());
        }
    }

    @Test
    void releasingAStaleInstanceDoesNotReleaseTheCurrentSession() throws Exception {
        byte[] bytes = TestModels.mlp();
        Path f = file("mlp.onnx", bytes);
        try (ModelRuntime runtime = new ModelRuntime(TestModelFiles.settings())) {
            LoadedModel old = runtime.acquire("abc", f);
            runtime.release(old);
            LoadedModel fresh = runtime.acquire("abc", f);

            assertNotSame(old, fresh, "a load after the last release opens a new session");
            assertFalse(fresh.isClosed());
            assertThrows(IllegalStateException.class, () -> runtime.release(old));
            assertEquals(Map.of("abc", 1), runtime.loadedSessions());
            runtime.release(fresh);
        }
    }

    @Test
    void differentHashesGetTheirOwnSessionsEvenForOneFile() throws Exception {
        Path f = file("mlp.onnx", TestModels.mlp());
        try (ModelRuntime runtime = new ModelRuntime(TestModelFiles.settings())) {
            LoadedModel a = runtime.acquire("a", f);
            LoadedModel b = runtime.acquire("b", f);

            assertNotSame(a, b);
            assertEquals(Map.of("a", 1, "b", 1), runtime.loadedSessions());
            runtime.release(a);
            assertTrue(a.isClosed());
            assertFalse(b.isClosed());
            runtime.release(b);
            assertEquals(Map.of(), runtime.loadedSessions());
        }
    }

    @Test
    void inspectReadsTheSignatureWithoutKeepingTheSession() throws Exception {
        try (ModelRuntime runtime = new ModelRuntime(TestModelFiles.settings())) {
            ModelSignature sig = runtime.inspect("mlp", file("mlp.onnx", TestModels.mlp()));

            assertEquals("x", sig.inputs().get(0).name());
            assertEquals(Map.of(), runtime.loadedSessions());
        }
    }

    @Test
    void closingTheRuntimeClosesEverySessionStillHeld() throws Exception {
        ModelRuntime runtime = new ModelRuntime(TestModelFiles.settings());
        LoadedModel a = runtime.acquire("a", file("mlp.onnx", TestModels.mlp()));
        LoadedModel b = runtime.acquire("b", file("conv.onnx", TestModels.dynamicConv()));

        runtime.close();

        assertTrue(a.isClosed());
        assertTrue(b.isClosed());
        assertEquals(Map.of(), runtime.loadedSessions());
    }

    // ---- files that cannot be served -------------------------------------------------------------

    private ModelLoadException loadFails(byte[] bytes) {
        return loadFails(TestModelFiles.settings(), file("bad.onnx", bytes));
    }

    private static ModelLoadException loadFails(RuntimeSettings settings, Path f) {
        try (ModelRuntime runtime = new ModelRuntime(settings)) {
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> runtime.acquire("bad", f));
            assertEquals(Map.of(), runtime.loadedSessions(), "a failed load must leave nothing loaded");
            assertFalse(e.getMessage().contains("\n"), "one line for the user: " + e.getMessage());
            return e;
        }
    }

    @Test
    void zeroByteFileIsRejectedAsEmpty() {
        assertEquals("the model file is empty (0 bytes)", loadFails(new byte[0]).getMessage());
    }

    @Test
    void randomBytesAreNotAValidOnnxModel() {
        byte[] junk = new byte[4096];
        new Random(7).nextBytes(junk);

        assertTrue(loadFails(junk).getMessage().startsWith("not a valid ONNX model: "));
    }

    @Test
    void aTextFileIsNotAValidOnnxModel() {
        byte[] text = "name,weight\nalice,1.5\nbob,2.25\n".getBytes(StandardCharsets.UTF_8);

        assertTrue(loadFails(text).getMessage().startsWith("not a valid ONNX model: "));
    }

    @Test
    void aTruncatedModelIsNotAValidOnnxModel() {
        byte[] whole = TestModels.mlp();

        ModelLoadException e = loadFails(Arrays.copyOf(whole, whole.length / 2));
        assertTrue(e.getMessage().startsWith("not a valid ONNX model: "), e.getMessage());
    }

    @Test
    void aModelWithACorruptedHeaderIsNotAValidOnnxModel() {
        // the first quarter holds the model header and the start of the graph's nodes
        byte[] bytes = TestModels.dynamicConv();
        for (int i = 0; i < bytes.length / 4; i++) {
            bytes[i] = (byte) ~bytes[i];
        }

        ModelLoadException e = loadFails(bytes);
        assertTrue(e.getMessage().startsWith("not a valid ONNX model: "), e.getMessage());
    }

    @Test
    void aMissingFileCannotBeRead() {
        ModelLoadException e = loadFails(TestModelFiles.settings(), dir.resolve("nowhere.onnx"));

        assertTrue(e.getMessage().startsWith("model file " + dir.resolve("nowhere.onnx") + " cannot be read: "),
                e.getMessage());
    }

    @Test
    void aFileLargerThanTheLimitIsRejectedBeforeLoading() {
        byte[] bytes = TestModels.mlp();
        RuntimeSettings small = new RuntimeSettings(1, 1, false, "all", bytes.length - 1);

        ModelLoadException e = loadFails(small, file("mlp.onnx", bytes));
        assertEquals("the model file has " + bytes.length + " bytes, more than the limit of " + (bytes.length - 1),
                e.getMessage());
    }

    @Test
    void aFileExactlyAtTheLimitLoads() throws Exception {
        byte[] bytes = TestModels.mlp();
        try (ModelRuntime runtime = new ModelRuntime(new RuntimeSettings(1, 1, false, "all", bytes.length))) {
            runtime.release(runtime.acquire("mlp", file("mlp.onnx", bytes)));
        }
    }

    /** A Cast model whose input {@code x} is declared with an ONNX element type meshinfer does not serve. */
    private static byte[] castModel(TensorProto.DataType inputType, TensorProto.DataType outputType) {
        ModelProto m = OnnxModelBuilder.create("cast")
                .input("x", DType.FP32, OnnxModelBuilder.dims("batch", 2))
                .output("y", DType.FP32, OnnxModelBuilder.dims("batch", 2))
                .node("Cast", List.of("x"), "y", OnnxModelBuilder.Attribute.of("to", outputType.getNumber()))
                .build();
        ModelProto.Builder b = m.toBuilder();
        ValueInfoProto.Builder in = b.getGraphBuilder().getInputBuilder(0);
        in.getTypeBuilder().getTensorTypeBuilder().setElemType(inputType.getNumber());
        ValueInfoProto.Builder out = b.getGraphBuilder().getOutputBuilder(0);
        out.getTypeBuilder().getTensorTypeBuilder().setElemType(outputType.getNumber());
        return b.build().toByteArray();
    }

    @Test
    void anInputOfAnUnservedElementTypeIsRejectedByName() {
        ModelLoadException e = loadFails(castModel(TensorProto.DataType.FLOAT16, TensorProto.DataType.FLOAT));

        assertTrue(e.getMessage().startsWith("input 'x' has element type FLOAT16, which meshinfer does not serve"),
                e.getMessage());
        assertTrue(e.getMessage().contains("FP32"), "the message lists the supported types: " + e.getMessage());
    }

    @Test
    void aModelWhoseOnlyOutputHasAnUnservedTypeIsRejected() {
        ModelLoadException e = loadFails(castModel(TensorProto.DataType.FLOAT, TensorProto.DataType.FLOAT16));

        assertEquals("the model has no tensor inputs or no tensor outputs", e.getMessage());
    }

    // ---- session settings ------------------------------------------------------------------------

    private static float[] runMlp(RuntimeSettings settings, Path f) throws Exception {
        try (ModelRuntime runtime = new ModelRuntime(settings)) {
            LoadedModel m = runtime.acquire("mlp", f);
            try {
                return m.run(mlpInput(), Set.of()).get(0).tensor().floats();
            } finally {
                runtime.release(m);
            }
        }
    }

    @Test
    void oneIntraOpThreadLoadsAndRuns() throws Exception {
        float[] y = runMlp(new RuntimeSettings(1, 1, false, "all", 1 << 20), file("mlp.onnx", TestModels.mlp()));

        assertArrayEquals(TestModels.mlpReference(MLP_X, 2), y, 1e-5f);
    }

    @Test
    void moreThreadsAndSpinningGiveTheSameResults() throws Exception {
        Path f = file("mlp.onnx", TestModels.mlp());
        float[] one = runMlp(new RuntimeSettings(1, 1, false, "all", 1 << 20), f);
        float[] two = runMlp(new RuntimeSettings(2, 2, true, "all", 1 << 20), f);

        assertArrayEquals(one, two, 1e-6f);
    }

    @ParameterizedTest
    @ValueSource(strings = {"none", "basic", "extended", "all"})
    void everyOptimizationLevelLoadsAndRuns(String level) throws Exception {
        float[] y = runMlp(new RuntimeSettings(1, 1, false, level, 1 << 20), file("mlp.onnx", TestModels.mlp()));

        assertArrayEquals(TestModels.mlpReference(MLP_X, 2), y, 1e-5f);
    }

    @Test
    void fewerThanOneThreadIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> new RuntimeSettings(0, 1, false, "all", 1));
        assertThrows(IllegalArgumentException.class, () -> new RuntimeSettings(1, 0, false, "all", 1));
    }

    @Test
    void anUnknownOptimizationLevelIsRejectedWhenTheSettingsAreBuilt() {
        // A typo in meshinfer.runtime.optimization-level must stop the node at startup, not make
        // every later model load fail with an IllegalArgumentException that is not a ModelLoadException.
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new RuntimeSettings(1, 1, false, "fastest", 1 << 20));
        assertEquals("meshinfer.runtime.optimization-level must be none, basic, extended or all, not 'fastest'",
                e.getMessage());
    }

    @Test
    void settingsAreReadFromTheReferenceConfig() {
        RuntimeSettings s = RuntimeSettings.fromConfig(ConfigFactory.load());

        assertEquals(new RuntimeSettings(1, 1, false, "all", 1L << 30), s);
    }

    // ---- signatures read from the test models ----------------------------------------------------

    private ModelSignature signatureOf(byte[] model) throws ModelLoadException {
        try (ModelRuntime runtime = new ModelRuntime(TestModelFiles.settings())) {
            return runtime.inspect("m", file("m.onnx", model));
        }
    }

    private static TensorSpec spec(String name, DType dtype, Object... dims) {
        List<TensorSpec.Dim> shape = Arrays.stream(dims)
                .map(d -> d instanceof String s ? TensorSpec.Dim.symbolic(s) : TensorSpec.Dim.fixed((Integer) d))
                .toList();
        return new TensorSpec(name, dtype, shape);
    }

    @Test
    void mlpSignatureIsBatchable() throws Exception {
        ModelSignature sig = signatureOf(TestModels.mlp());

        assertEquals(List.of(spec("x", DType.FP32, "batch", 4)), sig.inputs());
        assertEquals(List.of(spec("y", DType.FP32, "batch", 3)), sig.outputs());
        assertEquals("batch", sig.batchSymbol());
        assertTrue(sig.batchable());
        assertArrayEquals(new long[] {-1, 4}, sig.input("x").protocolShape());
        assertEquals("[batch, 4]", sig.input("x").shapeString());
    }

    @Test
    void int64EmbeddingSignatureIsBatchable() throws Exception {
        ModelSignature sig = signatureOf(TestModels.int64Embedding());

        assertEquals(List.of(spec("tokens", DType.INT64, "batch", 6)), sig.inputs());
        assertEquals(List.of(spec("embedding", DType.FP32, "batch", 4)), sig.outputs());
        assertTrue(sig.batchable());
    }

    @Test
    void twoInTwoOutSignatureKeepsDeclarationOrder() throws Exception {
        ModelSignature sig = signatureOf(TestModels.twoInTwoOut());

        assertEquals(List.of(spec("a", DType.FP32, "batch", 3), spec("b", DType.FP32, "batch", 3)), sig.inputs());
        assertEquals(List.of(spec("sum", DType.FP32, "batch", 3), spec("product", DType.FP32, "batch", 3)),
                sig.outputs());
        assertTrue(sig.batchable());
    }

    @Test
    void dynamicConvSignatureHasSymbolicSpatialDims() throws Exception {
        ModelSignature sig = signatureOf(TestModels.dynamicConv());

        assertEquals(List.of(spec("image", DType.FP32, "batch", 3, "height", "width")), sig.inputs());
        assertEquals(List.of(spec("features", DType.FP32, "batch", 2, "height", "width")), sig.outputs());
        assertTrue(sig.batchable());
        assertEquals("[batch, 3, height, width]", sig.input("image").shapeString());
    }

    @Test
    void allTypesSignatureHasEveryElementType() throws Exception {
        ModelSignature sig = signatureOf(TestModels.allTypes());

        List<DType> types = List.of(DType.FP64, DType.INT32, DType.UINT8, DType.BOOL, DType.INT64);
        for (int i = 0; i < types.size(); i++) {
            String name = TestModels.ALL_TYPES_INPUTS.get(i);
            assertEquals(spec(name, types.get(i), "batch", 2), sig.inputs().get(i));
            assertEquals(spec(name + "_out", types.get(i), "batch", 2), sig.outputs().get(i));
        }
        assertEquals(5, sig.inputs().size());
        assertTrue(sig.batchable());
    }

    @Test
    void noBatchAxisSignatureIsNotBatchable() throws Exception {
        ModelSignature sig = signatureOf(TestModels.noBatchAxis());

        assertEquals(List.of(spec("m", DType.FP32, 3, 4)), sig.inputs());
        assertEquals(List.of(spec("t", DType.FP32, 3, 4)), sig.outputs());
        assertFalse(sig.batchable());
        assertEquals("", sig.batchSymbol());
    }

    @Test
    void aRankZeroInputMakesTheModelUnbatchable() throws Exception {
        ModelSignature sig = signatureOf(TestModels.scalarInput());

        assertEquals(List.of(spec("x", DType.FP32, "batch", 4), spec("scale", DType.FP32)), sig.inputs());
        assertEquals(0, sig.input("scale").rank());
        assertEquals("[]", sig.input("scale").shapeString());
        assertFalse(sig.batchable());
    }

    @Test
    void aBatchOnTheSecondAxisIsNotBatchable() throws Exception {
        ModelSignature sig = signatureOf(TestModels.batchOnSecondAxis());

        assertEquals(List.of(spec("state", DType.FP32, 2, "batch", 3)), sig.inputs());
        assertEquals(List.of(spec("next", DType.FP32, 2, "batch", 3)), sig.outputs());
        assertFalse(sig.batchable());
    }
}
