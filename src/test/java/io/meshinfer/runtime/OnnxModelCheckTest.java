package io.meshinfer.runtime;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import io.meshinfer.models.BenchModels;
import io.meshinfer.models.DemoModel;
import io.meshinfer.testmodels.HostileModels;
import io.meshinfer.testmodels.TestModels;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The checks every model file passes before ONNX Runtime sees it. */
class OnnxModelCheckTest {
    @TempDir
    Path dir;

    private Path file(byte[] bytes) {
        return TestModelFiles.write(dir, "m-" + TestModelFiles.sha256(bytes) + ".onnx", bytes);
    }

    private String refusal(byte[] bytes) {
        return assertThrows(ModelLoadException.class, () -> OnnxModelCheck.check(file(bytes))).getMessage();
    }

    @Test
    void everyModelTheProjectBuildsPasses() {
        List<byte[]> models = new java.util.ArrayList<>(List.of(TestModels.mlp(), TestModels.twoInTwoOut(),
                TestModels.scalarInput(), TestModels.noBatchAxis(), TestModels.dynamicConv(), TestModels.allTypes(),
                TestModels.int64Embedding(), TestModels.batchOnSecondAxis(), DemoModel.build(), DemoModel.failing()));
        BenchModels.all().forEach(m -> models.add(m.onnx()));
        for (byte[] m : models) {
            assertDoesNotThrow(() -> OnnxModelCheck.check(file(m)));
        }
    }

    @Test
    void externalDataIsRefusedWhereverItPoints() {
        for (String location : List.of("/etc/passwd", "../../../../etc/passwd", "weights.bin")) {
            assertEquals("tensor 'b2' (graph, initializer) refers to external data in '" + location + "'; meshinfer"
                    + " deploys self-contained model files only: save the model with its weights inside the .onnx"
                    + " file (in Python, onnx.save_model(model, path, save_as_external_data=False))",
                    refusal(HostileModels.externalData(location)));
        }
        assertTrue(refusal(HostileModels.externalDataEntriesOnly("/etc/passwd"))
                .startsWith("tensor 'b2' (graph, initializer) refers to external data in '/etc/passwd'"));
    }

    @Test
    void externalDataHiddenInASubgraphIsRefused() {
        assertTrue(refusal(HostileModels.externalDataInSubgraph("/etc/shadow")).startsWith("tensor 'hidden' (graph,"
                + " node 'If', attribute 'then_branch' subgraph, node 'Constant', attribute 'value') refers to external"
                + " data in '/etc/shadow'"));
    }

    @Test
    void elementTypesOutsideTheEnumAreRefused() {
        // Integer.MIN_VALUE crashed the JVM inside ONNX Runtime 1.23.2's session creation
        for (int type : new int[] {Integer.MIN_VALUE, -727379968, -1, 0, 24, 1000}) {
            assertEquals("not a valid ONNX model: tensor 'extra' (graph, initializer) has the unknown element type "
                    + type, refusal(HostileModels.initializerOfType(type)));
        }
        assertDoesNotThrow(() -> OnnxModelCheck.check(file(HostileModels.initializerOfType(23))));
    }

    @Test
    void negativeDimensionsAreRefused() {
        assertEquals("not a valid ONNX model: tensor 'b1' (graph, initializer) has a negative dimension -5",
                refusal(HostileModels.negativeDimension()));
    }

    @Test
    void filesThatAreNotOnnxProtobufsAreRefused() {
        assertEquals("not a valid ONNX model: it has no graph", refusal(ModelProto.newBuilder().setIrVersion(8).build()
                .toByteArray()));
        byte[] mlp = TestModels.mlp();
        assertTrue(refusal(java.util.Arrays.copyOf(mlp, mlp.length / 2)).startsWith("not a valid ONNX model: the file"
                + " does not parse as an ONNX protobuf (While parsing a protocol message, the input ended unexpectedly"));
        assertTrue(refusal("name,weight\nalice,1.5\n".getBytes(java.nio.charset.StandardCharsets.UTF_8))
                .startsWith("not a valid ONNX model: "));
    }

    @Test
    void checkingALargeModelDoesNotCopyItsWeights() throws Exception {
        byte[] mlp = BenchModels.mlp().onnx();
        Path f = file(mlp);
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        OnnxModelCheck.check(f); // warm up the protobuf classes
        long before = threads.getCurrentThreadAllocatedBytes();
        OnnxModelCheck.check(f);
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertTrue(mlp.length > 4 << 20, "the model is large: " + mlp.length);
        assertTrue(allocated < mlp.length / 10, "checking a " + mlp.length + "-byte model allocated " + allocated);
    }

    @Test
    void theRuntimeRefusesWhatTheCheckRefusesBeforeOnnxRuntimeSeesIt() throws Exception {
        try (ModelRuntime runtime = new ModelRuntime(TestModelFiles.settings())) {
            byte[] crasher = HostileModels.initializerOfType(Integer.MIN_VALUE);
            ModelLoadException e = assertThrows(ModelLoadException.class,
                    () -> runtime.acquire(TestModelFiles.sha256(crasher), file(crasher)));
            assertTrue(e.getMessage().contains("unknown element type -2147483648"), e.getMessage());
            assertEquals(Map.of(), runtime.loadedSessions());
        }
    }
}
