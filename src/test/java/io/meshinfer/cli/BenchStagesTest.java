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
 * {@code meshinfer bench run --stages K} end to end, briefly: bench measures the model deployed
 * whole and as a pipeline of K stages in the same run, and reports every measured request of
 * both answered. Speed is reported in BENCHMARKS.md, not checked here.
 */
class BenchStagesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void benchMeasuresTheWholeModelAndItsPipelineSideBySide(@TempDir Path out) throws Exception {
        CliRun r = CliRun.of("bench", "run", "--model", "mlp", "--target", "inprocess", "--stages", "2",
                "--concurrency", "2", "--seconds", "2", "--warmup-seconds", "1", "--no-baselines",
                "--out", out.toString());
        assertEquals(0, r.code(), r.out() + r.err());

        JsonNode series = JSON.readTree(Files.readString(out.resolve("report.json"))).path("series");
        for (String name : new String[] {"engine", "pipeline, 2 stages"}) {
            JsonNode point = series.path(name).path(0);
            assertTrue(point.path("ok").asLong() > 0, name + ": " + series);
            assertEquals(0, point.path("errors").size(), name + ": " + point);
        }
    }
}
