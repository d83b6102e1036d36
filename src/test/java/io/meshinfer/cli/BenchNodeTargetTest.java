package io.meshinfer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.testkit.CliRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code meshinfer bench run --target node} end to end, briefly: it starts a node process with
 * its own JVM options, deploys the bench model, drives it over HTTP and writes a report in
 * which every measured request was answered. Speed is not checked here (BENCHMARKS.md is
 * where speed is reported); that the instrument runs is.
 */
class BenchNodeTargetTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void benchDrivesAFreshNodeProcessOverHttpAndReportsEveryRequestAnswered(@TempDir Path out) throws Exception {
        // a heap under the 512 MiB initial heap the bench node otherwise starts with
        CliRun r = CliRun.of("bench", "run", "--model", "mlp", "--target", "node", "--concurrency", "2",
                "--seconds", "2", "--warmup-seconds", "1", "--no-baselines", "--node-heap", "256m",
                "--out", out.toString());
        assertEquals(0, r.code(), r.out() + r.err());

        JsonNode report = JSON.readTree(Files.readString(out.resolve("report.json")));
        JsonNode engine = report.path("series").path("engine").path(0);
        assertTrue(engine.path("ok").asLong() > 0, engine.toString());
        assertEquals(0, engine.path("errors").size(), engine.toString());
        assertTrue(report.path("header").path("node peak RSS during engine").asText().endsWith("(heap limit 256m)"),
                report.path("header").toString());
        assertTrue(Files.size(out.resolve("report.md")) > 0);
        assertTrue(Files.size(out.resolve("latency-vs-throughput.png")) > 0);
    }
}
