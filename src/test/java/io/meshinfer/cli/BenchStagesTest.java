package io.meshinfer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.meshinfer.testkit.BenchRuns;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code meshinfer bench run --stages K} end to end, briefly: bench measures the model deployed
 * whole and as a pipeline of K stages in the same run, and reports every measured request of
 * both answered. Speed is reported in BENCHMARKS.md, not checked here.
 */
class BenchStagesTest {
    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void benchMeasuresTheWholeModelAndItsPipelineSideBySide(@TempDir Path out) throws Exception {
        JsonNode report = BenchRuns.run(out, "--model", "mlp", "--target", "inprocess", "--stages", "2");
        BenchRuns.answeredEvery(report, "engine");
        BenchRuns.answeredEvery(report, "pipeline, 2 stages");
    }
}
