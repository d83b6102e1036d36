package io.meshinfer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.testkit.BenchRuns;
import io.meshinfer.testkit.CliRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code meshinfer bench run --target node} with its baselines: raw ONNX Runtime in the
 * bench's JVM, and the batching-off series on a second node process started without the
 * queued-work limit (as the in-process target runs it), after the first node has stopped.
 */
class BenchBaselinesOverHttpTest {
    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void theBatchingOffSeriesRunsOnANodeOfItsOwnWithoutTheQueuedWorkLimit(@TempDir Path out) throws Exception {
        // a queued-work limit of a nanosecond refuses any request that waits beyond the next run of
        // each slot: the engine (batches of 16) never has one at concurrency 8, batching off would
        CliRun r = CliRun.of("bench", "run", "--model", "mlp", "--target", "node", "--node-heap", "256m",
                "--node-opt=-Dmeshinfer.batching.max-queue-delay=1ns", "--concurrency", "8", "--seconds", "2",
                "--warmup-seconds", "1", "--out", out.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        JsonNode report = new ObjectMapper().readTree(Files.readString(out.resolve("report.json")));

        BenchRuns.answeredEvery(report, "engine");
        BenchRuns.answeredEvery(report, "batching off");
        assertEquals("maxBatch 1, no queued-work limit, on a node process of its own",
                report.path("header").path("batching off").asText(), report.path("header").toString());
        assertTrue(report.path("raw").size() > 0, "raw baselines: " + report.path("raw"));
    }
}
