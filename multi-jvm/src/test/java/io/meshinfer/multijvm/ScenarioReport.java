package io.meshinfer.multijvm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The short report of one scenario: counts, failover and convergence times, each line
 * stamped with the seconds since the scenario started. Printed and written to
 * {@code target/multi-jvm/<scenario>/report.txt} when the harness closes (also when the
 * scenario failed, so a partial report shows how far it got). Thread-safe.
 */
public final class ScenarioReport {
    private final String scenario;
    private final long startNanos = System.nanoTime();
    private final List<String> lines = new ArrayList<>();

    ScenarioReport(String scenario) {
        this.scenario = scenario;
    }

    /** Adds a line ({@link String#format} style). */
    public synchronized void line(String format, Object... args) {
        String text = String.format(format, args);
        lines.add(String.format("[%6.1fs] %s", elapsed().toMillis() / 1000.0, text));
        System.out.println("[" + scenario + "] " + text);
    }

    /** Adds a load driver's summary and its per-second timeline. */
    public synchronized void load(LoadResult result) {
        line("%s", result.summary());
        for (String t : result.timeline(1000)) {
            lines.add("          " + t);
        }
        List<Outcome> failures = result.failures();
        int shown = Math.min(failures.size(), 20);
        for (int i = 0; i < shown; i++) {
            lines.add("          failure " + failures.get(i));
        }
        if (failures.size() > shown) {
            lines.add("          ... and " + (failures.size() - shown) + " more failures");
        }
    }

    /** Time since the scenario started. */
    public Duration elapsed() {
        return Duration.ofNanos(System.nanoTime() - startNanos);
    }

    public synchronized String text() {
        return "scenario " + scenario + "\n" + String.join("\n", lines) + "\n";
    }

    synchronized void write(Path file) {
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, text(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}
