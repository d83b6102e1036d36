package io.meshinfer.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A brief {@code meshinfer bench run} in this JVM, as the bench tests use it: one short point
 * at concurrency 2 without baselines, its exit code checked, and its {@code report.json}.
 */
public final class BenchRuns {
    private static final ObjectMapper JSON = new ObjectMapper();

    private BenchRuns() {
    }

    /**
     * Runs {@code bench run} with {@code args} and a 1 s warm-up and 2 s measured point at
     * concurrency 2, without baselines, reporting into {@code out}; fails unless it exits 0.
     */
    public static JsonNode run(Path out, String... args) throws IOException {
        List<String> all = new ArrayList<>(List.of("bench", "run"));
        all.addAll(List.of(args));
        all.addAll(List.of("--concurrency", "2", "--seconds", "2", "--warmup-seconds", "1", "--no-baselines",
                "--out", out.toString()));
        CliRun r = CliRun.of(all.toArray(String[]::new));
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(Files.size(out.resolve("report.md")) > 0);
        return JSON.readTree(Files.readString(out.resolve("report.json")));
    }

    /**
     * Checks that the first point of {@code series} answered some requests and every one it
     * sent (no errors, none unanswered); returns how many it answered.
     */
    public static long answeredEvery(JsonNode report, String series) {
        JsonNode point = report.path("series").path(series).path(0);
        long ok = point.path("ok").asLong();
        assertTrue(ok > 0, series + ": " + report.path("series"));
        assertEquals(0, point.path("errors").size(), series + ": " + point);
        return ok;
    }
}
