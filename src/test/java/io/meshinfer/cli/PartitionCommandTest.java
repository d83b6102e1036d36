package io.meshinfer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.models.BenchModels;
import io.meshinfer.registry.ArtifactStore;
import java.nio.file.Files;
import java.nio.file.Path;
import io.meshinfer.testkit.CliRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code meshinfer partition} as a user runs it: files written, table printed, exit codes. */
class PartitionCommandTest {

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void splitsABenchModelAndWritesStagesAndManifest(@TempDir Path dir) throws Exception {
        Path model = dir.resolve("mlp.onnx");
        assertEquals(0, run("bench", "export", "--model", "mlp", "--out", model.toString()).code());
        Path out = dir.resolve("stages");
        CliRun r = run("partition", "--model", model.toString(), "--stages", "3", "--out", out.toString(),
                "--check-samples", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("split into 3 stages (balanced cuts)"), r.out());
        assertTrue(r.out().matches("(?s).*stage +nodes +params bytes +MFLOP/sample +crossing.*"), r.out());
        assertTrue(r.out().contains("FP32[batch, 1024] 4096; total 4096"), r.out());
        assertTrue(r.out().contains("- (model outputs: logits)"), r.out());
        assertTrue(r.out().contains("chain check: 2 runs (1 samples x batch sizes [1, 3]) equal to the whole model"),
                r.out());

        JsonNode manifest = new ObjectMapper().readTree(out.resolve("stages.json").toFile());
        assertEquals("meshinfer-stages/1", manifest.get("format").asText());
        assertEquals(ArtifactStore.sha256(model), manifest.get("source").get("sha256").asText());
        assertEquals(3, manifest.get("stages").size());
        for (int i = 0; i < 3; i++) {
            JsonNode s = manifest.get("stages").get(i);
            Path file = out.resolve("stage-" + i + ".onnx");
            assertEquals("stage-" + i + ".onnx", s.get("file").asText());
            assertEquals(ArtifactStore.sha256(file), s.get("sha256").asText());
            assertTrue(s.get("estimatedFlopsPerSample").asLong() > 0);
        }
        assertEquals("features", manifest.get("stages").get(0).get("inputs").get(0).get("name").asText());
        assertEquals("logits", manifest.get("stages").get(2).get("outputs").get(0).get("name").asText());
        assertEquals(4096, manifest.get("cuts").get(0).get("bytesPerSample").asLong());
        assertEquals(2, manifest.get("check").get("runs").asInt());

        // again into the same directory, in two stages: the earlier third stage file goes
        CliRun cut = run("partition", "--model", model.toString(), "--cut", "t3_Relu", "--out", out.toString());
        assertEquals(0, cut.code(), cut.err());
        assertTrue(cut.out().contains("split into 2 stages (explicit cuts)"), cut.out());
        assertTrue(Files.exists(out.resolve("stage-1.onnx")));
        assertFalse(Files.exists(out.resolve("stage-2.onnx")));
        assertEquals(2, new ObjectMapper().readTree(out.resolve("stages.json").toFile()).get("stages").size());
    }

    @Test
    void badArgumentsAndBadModelsExitWith2AndWriteNothing(@TempDir Path dir) throws Exception {
        Path model = dir.resolve("cnn.onnx");
        Files.write(model, BenchModels.mlp().onnx());
        Path out = dir.resolve("out");

        CliRun tooMany = run("partition", "--model", model.toString(), "--stages", "6", "--out", out.toString());
        assertEquals(2, tooMany.code());
        assertTrue(tooMany.err().contains("cannot make 6 stages of a model with 5 nodes"), tooMany.err());

        CliRun zero = run("partition", "--model", model.toString(), "--stages", "0", "--out", out.toString());
        assertEquals(2, zero.code());
        assertTrue(zero.err().contains("at least 1"), zero.err());

        CliRun unknownCut = run("partition", "--model", model.toString(), "--cut", "t1_Relu,nope", "--out", out.toString());
        assertEquals(2, unknownCut.code());
        assertTrue(unknownCut.err().contains("unknown cut tensor 'nope'"), unknownCut.err());

        CliRun neither = run("partition", "--model", model.toString(), "--out", out.toString());
        assertEquals(2, neither.code());
        assertTrue(neither.err().contains("give --stages K or --cut"), neither.err());

        Path corrupt = Files.writeString(dir.resolve("corrupt.onnx"), "garbage, not protobuf");
        CliRun bad = run("partition", "--model", corrupt.toString(), "--stages", "2", "--out", out.toString());
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("not a valid ONNX model"), bad.err());

        CliRun missing = run("partition", "--model", dir.resolve("absent.onnx").toString(), "--stages", "2",
                "--out", out.toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("cannot be read"), missing.err());

        assertEquals(2, run("partition", "--stages", "2").code(), "missing required options");
        assertFalse(Files.exists(out), "nothing written after a refusal");

        CliRun help = run("partition", "--help");
        assertEquals(0, help.code());
        assertTrue(help.out().contains("Usage: meshinfer partition"), help.out());
        assertTrue(help.out().contains("meshinfer bench export"), help.out());
    }
}
