package io.meshinfer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.testkit.CliRun;
import io.meshinfer.testkit.TestNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * bench sends one request before each series: against a target that does not serve the
 * model under the name bench asks for, the run stops at once with the reason and what to do,
 * and writes no report, instead of measuring a point made of errors.
 */
class BenchPreflightTest {
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void aModelTheTargetDoesNotServeStopsTheRunWithTheReason(@TempDir Path out) throws Exception {
        try (TestNode node = TestNode.start()) {
            Path report = out.resolve("report");
            CliRun run = CliRun.of("bench", "run", "--model", "mlp", "--target", "http", "--url", node.url(),
                    "--model-name", "not-deployed", "--no-baselines", "--concurrency", "2", "--seconds", "2",
                    "--warmup-seconds", "1", "--out", report.toString());

            assertEquals(1, run.code(), run.out() + run.err());
            assertTrue(run.err().contains("answered HTTP_404"), run.err());
            assertTrue(run.err().contains("deployed there as 'not-deployed'"), run.err());
            assertTrue(run.err().contains("bench export --model mlp"), run.err());
            assertFalse(run.out().contains("measured answers"), "no series was measured: " + run.out());
            assertFalse(Files.exists(report.resolve("report.json")));
        }
    }
}
