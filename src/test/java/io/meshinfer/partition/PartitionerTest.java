package io.meshinfer.partition;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import io.meshinfer.models.BenchModels;
import io.meshinfer.models.DemoModel;
import io.meshinfer.models.OrtTestRunner;
import io.meshinfer.registry.ArtifactStore;
import io.meshinfer.runtime.ModelRuntime;
import io.meshinfer.runtime.RuntimeSettings;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The partitioner on real models in real ONNX Runtime: every split is accepted only after the
 * partitioner's own chain check, and each test then runs the written stages once more,
 * independently (plain ORT sessions, fed by name), against the whole model.
 */
class PartitionerTest {
    private static ModelRuntime runtime;
    private static Partitioner partitioner;
    private static BenchModels.BenchModel mlp;
    private static BenchModels.BenchModel cnn;
    private static BenchModels.BenchModel transformer;

    @BeforeAll
    static void start() {
        runtime = new ModelRuntime(new RuntimeSettings(1, 1, false, "all", 64L << 20));
        partitioner = new Partitioner(runtime);
        mlp = BenchModels.mlp();
        cnn = BenchModels.cnn();
        transformer = BenchModels.transformer();
    }

    @AfterAll
    static void stop() {
        runtime.close();
    }

    @Test
    void demoModelSplitsInTwoAndThree() throws Exception {
        byte[] model = DemoModel.build();
        for (int k = 2; k <= 3; k++) {
            Partition p = partitioner.partition(model, Partitioner.Options.stages(k));
            assertEquals(k, p.stages().size());
            assertEquals(k - 1, p.cuts().size());
            assertEquals(List.of("features"), names(p.stages().get(0).inputs()));
            assertEquals(List.of("probabilities"), names(p.stages().get(k - 1).outputs()));
            assertEquals(4, p.stages().stream().mapToInt(Partition.Stage::nodes).sum());
            assertChainMatches(model, p, List.of(new NamedTensor("features",
                    Tensor.ofFloats(new long[] {2, 8}, concat(DemoModel.sampleFeatures(1), DemoModel.sampleFeatures(2))))));
            assertEquals(4, p.check().runs());
            assertTrue(p.check().maxRelDiff() <= 1e-4);
        }
    }

    @Test
    void mlpIsCutOnA1024WideActivationWithBalancedCost() throws Exception {
        byte[] model = mlp.onnx();
        Partition two = partitioner.partition(model, Partitioner.Options.stages(2));
        Partition.Cut cut = two.cuts().get(0);
        assertEquals(1, cut.tensors().size(), cut.toString());
        Partition.StageTensor t = cut.tensors().get(0);
        assertEquals(List.of("batch", 1024L), t.shape(), "the cut crosses one activation, never weights: " + t);
        assertEquals("FP32", t.datatype());
        assertEquals(4096, t.bytesPerSample());
        assertEquals("t1_Relu", t.name(), "cut after the activation (fc1 + relu | fc2 + relu + fc3)");
        // fc1 is 0.5 MFLOP, fc2 2.1: no two-stage split is more even than 1:4
        assertTrue(two.costRatio() < 4.5, "cost ratio " + two.costRatio());
        long total = two.stages().stream().mapToLong(Partition.Stage::flopsPerSample).sum();
        assertTrue(Math.abs(total - mlp.flopsPerSample()) < mlp.flopsPerSample() / 100,
                "estimated " + total + " FLOPs vs the model's " + mlp.flopsPerSample());
        long params = two.stages().stream().mapToLong(Partition.Stage::parameterBytes).sum();
        assertEquals(mlp.parameterBytes(), params, "no initializer is shared, so none is copied twice");
        assertChainMatches(model, two, mlp.randomInputs(3, 5));

        Partition three = partitioner.partition(model, Partitioner.Options.stages(3));
        for (Partition.Cut c : three.cuts()) {
            assertEquals(1, c.tensors().size(), c.toString());
            assertEquals(List.of("batch", 1024L), c.tensors().get(0).shape());
        }
        // the 2.1 MFLOP fc2 alone bounds the maximum; it gets a stage of its own
        assertEquals(2, three.stages().get(1).nodes());
        assertChainMatches(model, three, mlp.randomInputs(2, 6));
    }

    @Test
    void cnnSplitsWithResidualConnectionsAcrossCuts() throws Exception {
        byte[] model = cnn.onnx();
        boolean residualCrossed = false;
        for (int k = 2; k <= 4; k++) {
            Partition p = partitioner.partition(model, Partitioner.Options.stages(k));
            assertEquals(k, p.stages().size());
            assertTrue(p.costRatio() < 1.6, k + " stages: cost ratio " + p.costRatio());
            long total = p.stages().stream().mapToLong(Partition.Stage::flopsPerSample).sum();
            assertTrue(total >= cnn.flopsPerSample() && total < cnn.flopsPerSample() * 1.05,
                    "estimated " + total + " vs " + cnn.flopsPerSample());
            for (Partition.Cut c : p.cuts()) {
                residualCrossed |= c.tensors().size() > 1;
                for (Partition.StageTensor t : c.tensors()) {
                    assertEquals("batch", t.shape().get(0), t.toString());
                    assertEquals(4, t.shape().size(), "activations [batch, C, H, W], never weights: " + t);
                }
                // the largest activation is 32x64x64 floats; a cut inside a block carries two
                assertTrue(c.bytesPerSample() <= 2 * 32 * 64 * 64 * 4, c.toString());
            }
            assertChainMatches(model, p, cnn.randomInputs(2, 10 + k));
        }
        assertTrue(residualCrossed, "some cut falls inside a residual block: its skip input crosses too");
    }

    @Test
    void transformerSplitsAndTheMaskIsCarriedToLaterStages() throws Exception {
        byte[] model = transformer.onnx();
        for (int k = 2; k <= 3; k++) {
            Partition p = partitioner.partition(model, Partitioner.Options.stages(k));
            assertTrue(p.costRatio() < 1.5, "cost ratio " + p.costRatio());
            assertChainMatches(model, p, transformer.randomInputs(3, 20 + k));
        }

        byte[] masked = PartitionTestModels.maskedEncoder();
        for (int k = 2; k <= 3; k++) {
            Partition p = partitioner.partition(masked, Partitioner.Options.stages(k));
            assertEquals(List.of("tokens", "mask"), names(p.stages().get(0).inputs()));
            for (Partition.Cut c : p.cuts()) {
                List<String> crossing = names(c.tensors());
                assertTrue(crossing.contains("mask"), "the mask is read in every layer: " + crossing);
                assertEquals("BOOL", c.tensors().get(crossing.indexOf("mask")).datatype());
                assertEquals(List.of("batch", 16L), c.tensors().get(crossing.indexOf("mask")).shape());
            }
            for (int s = 1; s < k; s++) {
                assertTrue(names(p.stages().get(s).inputs()).contains("mask"));
            }
            assertChainMatches(masked, p, maskedInputs(3, 31));
        }
    }

    @Test
    void anEarlyGraphOutputIsCarriedToTheEndInTheModelsOrder() throws Exception {
        byte[] model = PartitionTestModels.multiOutput();
        for (int k = 2; k <= 4; k++) {
            Partition p = partitioner.partition(model, Partitioner.Options.stages(k));
            Partition.Stage last = p.stages().get(k - 1);
            assertEquals(List.of("early", "y", "cls", "x"), names(last.outputs()));
            for (Partition.Cut c : p.cuts()) {
                assertTrue(names(c.tensors()).contains("early"), c.toString());
                assertTrue(names(c.tensors()).contains("x"), "a graph input that is also an output: " + c);
            }
            assertChainMatches(model, p, List.of(new NamedTensor("x", gaussian(new long[] {3, 8}, 41))));
        }
        // explicitly right after the early output
        Partition p = partitioner.partition(model, Partitioner.Options.cuts(List.of("early")));
        assertEquals(2, p.stages().get(0).nodes());
        assertEquals(List.of("x", "early"), names(p.cuts().get(0).tensors()));
    }

    @Test
    void valuesASubgraphReadsFromTheOuterScopeCrossCuts() throws Exception {
        byte[] model = PartitionTestModels.ifWithOuterScope();
        Partition p = partitioner.partition(model, Partitioner.Options.cuts(List.of("b")));
        assertEquals(List.of("x", "a", "b"), names(p.cuts().get(0).tensors()),
                "the If reads 'a' only inside its branches; x feeds ReduceSum");
        for (int sign = -1; sign <= 1; sign += 2) {
            float[] v = new float[16];
            java.util.Arrays.fill(v, sign * 0.5f);
            assertChainMatches(model, p, List.of(new NamedTensor("x", Tensor.ofFloats(new long[] {2, 8}, v))));
        }
        assertChainMatches(model, partitioner.partition(model, Partitioner.Options.stages(3)),
                List.of(new NamedTensor("x", gaussian(new long[] {2, 8}, 5))));
    }

    @Test
    void aBatchDimensionInferenceLeftUnknownIsNamedFromTheProbe() throws Exception {
        byte[] model = PartitionTestModels.reshapeWithUnknownBatch();
        Partition p = partitioner.partition(model, Partitioner.Options.cuts(List.of("flat")));
        Partition.StageTensor flat = p.stages().get(1).inputs().get(0);
        assertEquals("flat", flat.name());
        assertEquals(List.of("batch", 32L), flat.shape(), "stage 1 stays batchable");
        assertEquals(128, flat.bytesPerSample());
        assertChainMatches(model, p, List.of(new NamedTensor("x", gaussian(new long[] {5, 4, 8}, 6))));
    }

    @Test
    void symbolicDimensionsBesidesTheBatchTakeTheGivenSize() throws Exception {
        byte[] model = io.meshinfer.models.OnnxModelBuilder.create("sequence")
                .input("x", io.meshinfer.tensor.DType.FP32, io.meshinfer.models.OnnxModelBuilder.dims("batch", "seq", 8))
                .output("y", io.meshinfer.tensor.DType.FP32, io.meshinfer.models.OnnxModelBuilder.dims("batch", "seq", 8))
                .initializer("w", PartitionTestModels.gaussian(new Random(3), 64, 0.3), 8, 8)
                .node("MatMul", List.of("x", "w"), "h")
                .node("Relu", List.of("h"), "r")
                .node("MatMul", List.of("r", "w"), "y")
                .toBytes();
        Partition p = partitioner.partition(model, Partitioner.Options.stages(2));
        assertEquals(8 * 8 * 4, p.stages().get(0).inputs().get(0).bytesPerSample(), "seq is 8 by default");
        assertEquals(List.of("batch", "seq", 8L), p.stages().get(0).inputs().get(0).shape());
        assertEquals(List.of("batch", "seq", 8L), p.cuts().get(0).tensors().get(0).shape());
        assertEquals(2, p.stages().get(1).parameterBytes() / (64 * 4) + p.stages().get(0).parameterBytes() / (64 * 4),
                "the shared weight is copied into both stages");
        p = partitioner.partition(model, Partitioner.Options.stages(2).withDims(Map.of("seq", 5L)));
        assertEquals(5 * 8 * 4, p.stages().get(0).inputs().get(0).bytesPerSample());

        // fixed shapes: the batch size cannot change, so the check runs batch 1 only
        byte[] fixed = io.meshinfer.models.OnnxModelBuilder.create("fixed")
                .input("x", io.meshinfer.tensor.DType.FP32, io.meshinfer.models.OnnxModelBuilder.dims(1, 8))
                .output("y", io.meshinfer.tensor.DType.FP32, io.meshinfer.models.OnnxModelBuilder.dims(1, 8))
                .node("Relu", List.of("x"), "r")
                .node("Neg", List.of("r"), "y")
                .toBytes();
        Partition.Check check = partitioner.partition(fixed, Partitioner.Options.stages(2)).check();
        assertEquals(List.of(1), check.batchSizes());
        assertEquals(2, check.runs());
    }

    @Test
    void explicitCutsAreUsedAsGiven() throws Exception {
        byte[] model = cnn.onnx();
        // any order; each cut right after the node producing the tensor
        Partition p = partitioner.partition(model, Partitioner.Options.cuts(List.of("t15_Relu", "t6_Relu")));
        assertEquals("explicit", p.selection());
        assertEquals(3, p.stages().size());
        assertEquals(List.of("t6_Relu"), names(p.cuts().get(0).tensors()));
        assertEquals(List.of("t15_Relu"), names(p.cuts().get(1).tensors()));
        assertEquals(List.of(3L * 64 * 64 * 4, 32L * 64 * 64 * 4),
                List.of(p.stages().get(0).inputs().get(0).bytesPerSample(), p.cuts().get(0).bytesPerSample()));
        assertChainMatches(model, p, cnn.randomInputs(1, 3));

        // --stages agrees with the number of cuts
        Partition same = partitioner.partition(model,
                new Partitioner.Options(3, List.of("t6_Relu", "t15_Relu"), 1, 0.1, Map.of(), 1));
        assertEquals(p.stages().get(1).sha256(), same.stages().get(1).sha256());
    }

    @Test
    void invalidCutsAreRefusedWithTheReason() {
        byte[] model = mlp.onnx();
        assertRefused(model, Partitioner.Options.cuts(List.of("t1_Relu", "nonexistent")),
                "unknown cut tensor 'nonexistent'");
        assertRefused(model, Partitioner.Options.cuts(List.of("features")), "'features': it is a graph input");
        assertRefused(model, Partitioner.Options.cuts(List.of("fc1.weight")), "'fc1.weight': it is an initializer");
        assertRefused(model, Partitioner.Options.cuts(List.of("logits")), "the last stage would be empty");
        assertRefused(model, Partitioner.Options.cuts(List.of("t1_Relu", "t1_Relu")), "at the same place");
        assertRefused(model, Partitioner.Options.cuts(List.of("")), "an empty cut name");
        assertRefused(model, new Partitioner.Options(4, List.of("t1_Relu"), 1, 0.1, Map.of(), 1),
                "1 cuts make 2 stages, not 4");
    }

    @Test
    void oneStageIsTheWholeModel() throws Exception {
        byte[] model = DemoModel.build();
        Partition p = partitioner.partition(model, Partitioner.Options.stages(1));
        assertEquals(1, p.stages().size());
        assertArrayEquals(model, p.stages().get(0).bytes());
        assertEquals(ArtifactStore.sha256(model), p.stages().get(0).sha256());
        assertEquals(p.sourceSha256(), p.stages().get(0).sha256());
        assertTrue(p.cuts().isEmpty());
    }

    @Test
    void stageCountsThatCannotWorkAreRefused() {
        byte[] model = DemoModel.build();
        assertRefused(model, Partitioner.Options.stages(5), "cannot make 5 stages of a model with 4 nodes");
        assertRefused(model, Partitioner.Options.stages(0), "must be at least 1");
        assertRefused(model, Partitioner.Options.stages(-2), "must be at least 1");
        assertRefused(model, Partitioner.Options.stages(2).withCheckSamples(0), "at least 1 sample");
        // 4 nodes make at most 4 stages, one node each
        assertDoesNotThrowPartition(model, Partitioner.Options.stages(4));
    }

    @Test
    void corruptAndOversizedFilesAreRefused(@TempDir Path dir) throws Exception {
        Path truncated = Files.write(dir.resolve("truncated.onnx"), java.util.Arrays.copyOf(DemoModel.build(), 200));
        PartitionException e = assertThrows(PartitionException.class,
                () -> partitioner.partition(truncated, Partitioner.Options.stages(2)));
        assertTrue(e.getMessage().startsWith("not a valid ONNX model"), e.getMessage());

        Path text = Files.writeString(dir.resolve("text.onnx"), "this is not a model at all");
        e = assertThrows(PartitionException.class, () -> partitioner.partition(text, Partitioner.Options.stages(2)));
        assertTrue(e.getMessage().startsWith("not a valid ONNX model"), e.getMessage());

        Path empty = Files.write(dir.resolve("empty.onnx"), new byte[0]);
        e = assertThrows(PartitionException.class, () -> partitioner.partition(empty, Partitioner.Options.stages(2)));
        assertTrue(e.getMessage().contains("is empty"), e.getMessage());

        // larger than the limit: refused from its size alone, before parsing (garbage would not parse)
        try (ModelRuntime small = new ModelRuntime(new RuntimeSettings(1, 1, false, "all", 1024))) {
            byte[] garbage = new byte[4096];
            new Random(1).nextBytes(garbage);
            Path big = Files.write(dir.resolve("big.onnx"), garbage);
            e = assertThrows(PartitionException.class,
                    () -> new Partitioner(small).partition(big, Partitioner.Options.stages(2)));
            assertTrue(e.getMessage().contains("4096 bytes, more than the limit of 1024"), e.getMessage());
        }
        // external data fails OnnxModelCheck, as it does for a deploy
        ModelProto m = ModelProto.parseFrom(DemoModel.build());
        GraphProto.Builder g = m.getGraph().toBuilder();
        g.setInitializer(0, g.getInitializer(0).toBuilder().clearRawData()
                .setDataLocation(ai.onnx.proto.OnnxMl.TensorProto.DataLocation.EXTERNAL)
                .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue("/etc/passwd")));
        Path external = Files.write(dir.resolve("external.onnx"), m.toBuilder().setGraph(g).build().toByteArray());
        e = assertThrows(PartitionException.class,
                () -> partitioner.partition(external, Partitioner.Options.stages(2)));
        assertTrue(e.getMessage().contains("refers to external data"), e.getMessage());
    }

    @Test
    void nodesOutOfOrderAreSortedAndCyclesOrDanglingValuesAreRefused() throws Exception {
        ModelProto demo = ModelProto.parseFrom(DemoModel.build());
        List<NodeProto> reversed = new ArrayList<>(demo.getGraph().getNodeList());
        java.util.Collections.reverse(reversed);
        ModelProto shuffled = demo.toBuilder().setGraph(demo.getGraph().toBuilder().clearNode().addAllNode(reversed))
                .build();
        ModelGraph g = ModelGraph.of(shuffled);
        assertFalse(g.givenOrderTopological);
        assertEquals(List.of("Gemm", "Relu", "Gemm", "Softmax"), g.nodes.stream().map(NodeProto::getOpType).toList());
        Partition p = partitioner.partition(shuffled.toByteArray(), Partitioner.Options.stages(2));
        assertChainMatches(shuffled.toByteArray(), p, List.of(new NamedTensor("features",
                Tensor.ofFloats(new long[] {1, 8}, DemoModel.sampleFeatures(3)))));

        // fc1 -> hidden -> logits, and a node making fc1 out of logits: a cycle
        GraphProto.Builder cyclic = demo.getGraph().toBuilder();
        cyclic.setNode(0, cyclic.getNode(0).toBuilder().setInput(0, "probabilities"));
        assertRefused(demo.toBuilder().setGraph(cyclic).build().toByteArray(), Partitioner.Options.stages(2),
                "it has a cycle");

        GraphProto.Builder dangling = demo.getGraph().toBuilder();
        dangling.setNode(1, dangling.getNode(1).toBuilder().setInput(0, "ghost"));
        assertRefused(demo.toBuilder().setGraph(dangling).build().toByteArray(), Partitioner.Options.stages(2),
                "reads 'ghost', which no node produces");

        GraphProto.Builder twice = demo.getGraph().toBuilder();
        twice.setNode(1, twice.getNode(1).toBuilder().setOutput(0, "fc1"));
        assertRefused(demo.toBuilder().setGraph(twice).build().toByteArray(), Partitioner.Options.stages(2),
                "value 'fc1' is defined twice");
    }

    @Test
    void stageFilesCarryTheirProvenanceAndOnlyTheirInitializers() throws Exception {
        Partition p = partitioner.partition(mlp.onnx(), Partitioner.Options.stages(2));
        ModelProto source = ModelProto.parseFrom(mlp.onnx());
        for (Partition.Stage s : p.stages()) {
            ModelProto stage = ModelProto.parseFrom(s.bytes());
            assertEquals(source.getIrVersion(), stage.getIrVersion());
            assertEquals(source.getOpsetImportList(), stage.getOpsetImportList());
            Map<String, String> meta = new HashMap<>();
            stage.getMetadataPropsList().forEach(e -> meta.put(e.getKey(), e.getValue()));
            assertEquals(s.index() + "/2", meta.get(Partitioner.META_STAGE));
            assertEquals(p.sourceSha256(), meta.get(Partitioner.META_SOURCE));
            for (var init : stage.getGraph().getInitializerList()) {
                boolean read = stage.getGraph().getNodeList().stream().anyMatch(n -> n.getInputList().contains(
                        init.getName()));
                assertTrue(read, "initializer " + init.getName() + " of stage " + s.index() + " is read there");
            }
        }
        assertEquals(List.of("fc1.weight", "fc1.bias"), ModelProto.parseFrom(p.stages().get(0).bytes()).getGraph()
                .getInitializerList().stream().map(t -> t.getName()).toList());
    }

    @Test
    void aChainThatDeviatesOrDoesNotLoadIsRefused(@TempDir Path dir) throws Exception {
        byte[] model = DemoModel.build();
        ModelGraph g = ModelGraph.of(ModelProto.parseFrom(model));
        RandomInputs inputs = RandomInputs.of(g, Map.of());
        PartitionException.ChainMismatch e = assertThrows(PartitionException.ChainMismatch.class,
                () -> ChainCheck.run(model, List.of(DemoModel.build(99)), runtime, inputs, 1, 1, dir));
        assertTrue(e.getMessage().contains("deviates from the whole model: output 'probabilities'"), e.getMessage());

        e = assertThrows(PartitionException.ChainMismatch.class,
                () -> ChainCheck.run(model, List.of(new byte[] {1, 2, 3}), runtime, inputs, 1, 1, dir));
        assertTrue(e.getMessage().startsWith("stage 0 does not load in ONNX Runtime"), e.getMessage());

        Partition.Check ok = ChainCheck.run(model, List.of(model), runtime, inputs, 3, 1, dir);
        assertEquals(6, ok.runs());
        assertEquals(0.0, ok.maxAbsDiff());
    }

    // ---- helpers

    /** Runs the stages one after another in plain ORT sessions and compares with the whole model. */
    private static void assertChainMatches(byte[] whole, Partition p, List<NamedTensor> inputs) throws Exception {
        List<NamedTensor> expected = OrtTestRunner.run(whole, inputs);
        Map<String, Tensor> available = new HashMap<>();
        inputs.forEach(t -> available.put(t.name(), t.tensor()));
        List<NamedTensor> out = inputs;
        for (Partition.Stage s : p.stages()) {
            List<NamedTensor> feed = new ArrayList<>();
            for (Partition.StageTensor in : s.inputs()) {
                Tensor t = available.get(in.name());
                assertTrue(t != null, "stage " + s.index() + " input " + in.name() + " is available");
                feed.add(new NamedTensor(in.name(), t));
            }
            out = OrtTestRunner.run(s.bytes(), feed);
            assertEquals(names(s.outputs()), out.stream().map(NamedTensor::name).toList());
            available.clear();
            out.forEach(t -> available.put(t.name(), t.tensor()));
        }
        assertEquals(expected.stream().map(NamedTensor::name).toList(), out.stream().map(NamedTensor::name).toList());
        for (int i = 0; i < expected.size(); i++) {
            Tensor x = expected.get(i).tensor();
            Tensor y = out.get(i).tensor();
            assertArrayEquals(x.shape(), y.shape(), expected.get(i).name());
            assertTrue(x.maxAbsDifference(y) <= 1e-4, expected.get(i).name() + " differs by " + x.maxAbsDifference(y));
        }
    }

    private static void assertRefused(byte[] model, Partitioner.Options options, String message) {
        PartitionException e = assertThrows(PartitionException.class, () -> partitioner.partition(model, options));
        assertTrue(e.getMessage().contains(message), "expected '" + message + "' in: " + e.getMessage());
        assertFalse(e instanceof PartitionException.ChainMismatch, e.getMessage());
    }

    private static void assertDoesNotThrowPartition(byte[] model, Partitioner.Options options) {
        try {
            assertEquals(options.stages(), partitioner.partition(model, options).stages().size());
        } catch (PartitionException e) {
            throw new AssertionError(e.getMessage(), e);
        }
    }

    private static List<String> names(List<Partition.StageTensor> tensors) {
        return tensors.stream().map(Partition.StageTensor::name).toList();
    }

    private static float[] concat(float[] a, float[] b) {
        float[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static Tensor gaussian(long[] shape, long seed) {
        Random r = new Random(seed);
        float[] v = new float[(int) Tensor.elementCount(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return Tensor.ofFloats(shape, v);
    }

    private static List<NamedTensor> maskedInputs(int batch, long seed) {
        Random r = new Random(seed);
        int n = batch * PartitionTestModels.SEQUENCE;
        long[] tokens = new long[n];
        boolean[] mask = new boolean[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = r.nextInt(PartitionTestModels.VOCABULARY);
            mask[i] = r.nextInt(4) != 0;
        }
        long[] shape = {batch, PartitionTestModels.SEQUENCE};
        return List.of(new NamedTensor("tokens", Tensor.ofLongs(shape, tokens)),
                new NamedTensor("mask", Tensor.ofBooleans(shape, mask)));
    }
}
