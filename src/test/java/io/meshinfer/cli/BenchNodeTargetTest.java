package io.meshinfer.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.meshinfer.testkit.BenchRuns;
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
    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void benchDrivesAFreshNodeProcessOverHttpAndReportsEveryRequestAnswered(@TempDir Path out) throws Exception {
        // a heap under the 512 MiB initial heap the bench node otherwise starts with
        JsonNode report = BenchRuns.run(out, "--model", "mlp", "--target", "node", "--node-heap", "256m");
        BenchRuns.answeredEvery(report, "engine");
        assertTrue(report.path("header").path("node peak RSS during engine").asText().endsWith("(heap limit 256m)"),
                report.path("header").toString());
        // sampled from the node's own /metrics: the parallel collector's old generation is "PS Old Gen"
        assertTrue(report.path("header").path("node heap during engine").asText()
                .matches("peak [1-9][0-9]* MiB in use; old generation [0-9]+ MiB at the first sample, [0-9]+ MiB at"
                        + " the last \\(from /metrics each second\\)"), report.path("header").toString());
        assertTrue(Files.size(out.resolve("latency-vs-throughput.png")) > 0);
    }
}
