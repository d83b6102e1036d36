package io.meshinfer.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.api.InferenceRequest;
import io.meshinfer.models.BenchModels;
import io.meshinfer.protocol.OipBinary;
import io.meshinfer.protocol.OipJson;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testkit.CliRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code meshinfer bench request}: the body it writes is the request bench sends, and the
 * gateway's own codecs read back the same tensors, as JSON and with the binary extension.
 */
class BenchRequestCommandTest {
    private static final OipJson JSON = new OipJson(Integer.MAX_VALUE - 8);

    @TempDir
    Path dir;

    @Test
    void aJsonBodyCarriesTheBenchInputs() throws Exception {
        Path out = dir.resolve("transformer.json");
        CliRun run = CliRun.of("bench", "request", "--model", "transformer", "--seed", "3", "--out", out.toString());
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().contains("POST /v2/models/bench-transformer/infer with Content-Type: application/json"),
                run.out());
        InferenceRequest r = JSON.decodeRequest(Files.readAllBytes(out), "bench-transformer", null, 1000, 60_000);
        assertSameTensors(BenchModels.transformer().randomInputs(1, 3), r.inputs());
        assertEquals(10_000, r.timeoutMillis());
    }

    @Test
    void aBinaryBodyNamesItsHeaderLengthAndCarriesTheBenchInputs() throws Exception {
        Path out = dir.resolve("cnn.bin");
        CliRun run = CliRun.of("bench", "request", "--model", "cnn", "--model-name", "vision", "--binary",
                "--out", out.toString());
        assertEquals(0, run.code(), run.err());
        Matcher m = Pattern.compile(OipBinary.HEADER_LENGTH + ": (\\d+)").matcher(run.out());
        assertTrue(m.find(), run.out());
        assertTrue(run.out().contains("/v2/models/vision/infer"), run.out());
        assertTrue(run.out().contains("-s scripts/wrk/oip.lua") && run.out().contains(out + " " + m.group(1)),
                run.out());
        OipBinary.Request r = new OipBinary(JSON).decodeRequest(Files.readAllBytes(out), m.group(1), "vision", null,
                1000, 60_000);
        assertSameTensors(BenchModels.cnn().randomInputs(1, 0), r.request().inputs());
        assertTrue(r.binaryOutputs().all(), "the outputs are asked for as binary too");
    }

    @Test
    void anUnknownModelIsAUsageErrorAndWritesNothing() {
        Path out = dir.resolve("none.json");
        CliRun run = CliRun.of("bench", "request", "--model", "resnet152", "--out", out.toString());
        assertTrue(run.code() != 0, run.out());
        assertTrue(Files.notExists(out));
    }

    private static void assertSameTensors(List<NamedTensor> expected, List<NamedTensor> actual) {
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++) {
            Tensor e = expected.get(i).tensor();
            Tensor a = actual.get(i).tensor();
            assertEquals(expected.get(i).name(), actual.get(i).name());
            assertEquals(e.dtype(), a.dtype());
            assertArrayEquals(e.shape(), a.shape());
            if (e.dtype() == DType.FP32) {
                assertArrayEquals(e.floats(), a.floats());
            } else {
                assertArrayEquals(e.longs(), a.longs());
            }
        }
    }
}
