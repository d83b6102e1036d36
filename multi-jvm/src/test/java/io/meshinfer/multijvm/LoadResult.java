package io.meshinfer.multijvm;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * What a {@link LoadDriver} recorded: how many requests it sent, and the outcome of each
 * one that was answered, ordered by send time. {@link #unanswered()} is sent minus
 * answered; for a stopped driver it is 0 unless a request lost its outcome, which is the
 * bug this class exists to expose. Also the time-series questions a failover report asks.
 * Immutable.
 */
public final class LoadResult {
    private final String name;
    private final long sent;
    private final long duplicates;
    private final List<Outcome> outcomes;

    LoadResult(String name, long sent, long duplicates, List<Outcome> outcomes) {
        this.name = name;
        this.sent = sent;
        this.duplicates = duplicates;
        List<Outcome> sorted = new ArrayList<>(outcomes);
        sorted.sort(Comparator.comparingDouble(Outcome::startMillis).thenComparingLong(Outcome::seq));
        this.outcomes = List.copyOf(sorted);
    }

    public String name() {
        return name;
    }

    /** Requests the driver started to send. */
    public long sent() {
        return sent;
    }

    /** Requests with a recorded terminal outcome. */
    public long answered() {
        return outcomes.size();
    }

    /** Sent minus answered: requests with no outcome. Must be 0 once the driver stopped. */
    public long unanswered() {
        return sent - outcomes.size();
    }

    /** Outcomes recorded a second time for the same request (each is a harness bug; must be 0). */
    public long duplicates() {
        return duplicates;
    }

    public List<Outcome> outcomes() {
        return outcomes;
    }

    public long succeeded() {
        return outcomes.stream().filter(Outcome::ok).count();
    }

    public long failed() {
        return outcomes.size() - succeeded();
    }

    public List<Outcome> failures() {
        return outcomes.stream().filter(o -> !o.ok()).toList();
    }

    /** Failures that are not typed errors (timeouts, broken connections, untyped HTTP errors, ...). */
    public List<Outcome> untypedFailures() {
        return outcomes.stream().filter(o -> !o.ok() && !o.typed()).toList();
    }

    /** Succeeded over answered (1.0 when nothing was answered). */
    public double successRate() {
        return outcomes.isEmpty() ? 1.0 : (double) succeeded() / outcomes.size();
    }

    /** Failures counted by {@link Outcome#label()}. */
    public Map<String, Long> failedByType() {
        return outcomes.stream().filter(o -> !o.ok())
                .collect(Collectors.groupingBy(Outcome::label, TreeMap::new, Collectors.counting()));
    }

    /** Requests that a gateway refused and another gateway took (what a load balancer does). */
    public long failedOver() {
        return outcomes.stream().filter(o -> o.failovers() > 0).count();
    }

    /** Requests that passed over a gateway whose readiness probe said not ready (with a readiness probe). */
    public long routedAroundNotReady() {
        return outcomes.stream().filter(o -> o.notReadySkips() > 0).count();
    }

    /** Successful requests by serving node. */
    public Map<String, Long> servedBy() {
        return outcomes.stream().filter(Outcome::ok)
                .collect(Collectors.groupingBy(o -> String.valueOf(o.node()), TreeMap::new, Collectors.counting()));
    }

    /** Successful answers per serving model version. */
    public Map<String, Long> servedByVersion() {
        return outcomes.stream().filter(Outcome::ok)
                .collect(Collectors.groupingBy(o -> String.valueOf(o.version()), TreeMap::new, Collectors.counting()));
    }

    public long servedInIslandMode() {
        return outcomes.stream().filter(o -> o.ok() && o.island()).count();
    }

    /** The outcomes matching {@code filter}, as a result of their own (sent = their number). */
    public LoadResult where(String label, Predicate<Outcome> filter) {
        List<Outcome> selected = outcomes.stream().filter(filter).toList();
        return new LoadResult(name + " " + label, selected.size(), 0, selected);
    }

    /** Requests first sent in {@code [fromMillis, toMillis)}. */
    public LoadResult sentBetween(double fromMillis, double toMillis) {
        return where(String.format("[+%.1fs, +%.1fs)", fromMillis / 1000, toMillis / 1000),
                o -> o.startMillis() >= fromMillis && o.startMillis() < toMillis);
    }

    /** Requests first sent at or after {@code fromMillis}. */
    public LoadResult sentFrom(double fromMillis) {
        return where(String.format("[+%.1fs, end]", fromMillis / 1000), o -> o.startMillis() >= fromMillis);
    }

    /** When the first failure that ended at or after {@code eventMillis} ended. */
    public OptionalDouble firstFailureAfter(double eventMillis) {
        return outcomes.stream().filter(o -> !o.ok() && o.endMillis() >= eventMillis)
                .mapToDouble(Outcome::endMillis).min();
    }

    /**
     * When the success rate was full again after {@code eventMillis}: the send time of the
     * first request after the last failure (that ended at or after the event) from which on
     * every request succeeded; {@code eventMillis} itself if nothing failed after it; empty
     * if the load never recovered.
     */
    public OptionalDouble fullSuccessAgainAfter(double eventMillis) {
        OptionalDouble lastFailureStart = outcomes.stream().filter(o -> !o.ok() && o.endMillis() >= eventMillis)
                .mapToDouble(Outcome::startMillis).max();
        if (lastFailureStart.isEmpty()) {
            return OptionalDouble.of(eventMillis);
        }
        double last = lastFailureStart.getAsDouble();
        return outcomes.stream().filter(o -> o.ok() && o.startMillis() > last)
                .mapToDouble(Outcome::startMillis).min();
    }

    /** Slowest answer among requests sent in {@code [fromMillis, toMillis)}. */
    public double maxLatencyMillis(double fromMillis, double toMillis) {
        return outcomes.stream().filter(o -> o.startMillis() >= fromMillis && o.startMillis() < toMillis)
                .mapToDouble(Outcome::latencyMillis).max().orElse(0);
    }

    /** Latency percentile (0-100) over successful requests, in milliseconds. */
    public double latencyPercentile(double p) {
        double[] l = outcomes.stream().filter(Outcome::ok).mapToDouble(Outcome::latencyMillis).sorted().toArray();
        if (l.length == 0) {
            return 0;
        }
        int i = (int) Math.ceil(p / 100.0 * l.length) - 1;
        return l[Math.max(0, Math.min(l.length - 1, i))];
    }

    /** One line of counts. */
    public String summary() {
        String latency = succeeded() == 0 ? "no successes"
                : String.format("success latency p50 %.1f ms p99 %.1f ms", latencyPercentile(50),
                        latencyPercentile(99));
        return String.format("%s: sent %d, answered %d, unanswered %d, duplicates %d, succeeded %d (%.2f%%),"
                        + " failed %d %s, failed over %d, around not-ready %d, island %d, served by %s, %s,"
                        + " slowest answer %.1f ms%s",
                name, sent, answered(), unanswered(), duplicates, succeeded(), 100 * successRate(), failed(),
                failedByType(), failedOver(), routedAroundNotReady(), servedInIslandMode(), servedBy(), latency,
                outcomes.stream().mapToDouble(Outcome::latencyMillis).max().orElse(0), failureExamples());
    }

    /** The first and the last failure in full (gateway, time, error text), so a one-line summary names the cause. */
    private String failureExamples() {
        List<Outcome> failed = outcomes.stream().filter(o -> !o.ok())
                .sorted(java.util.Comparator.comparingDouble(Outcome::startMillis)).toList();
        if (failed.isEmpty()) {
            return "";
        }
        return failed.size() == 1 ? "; failure: " + failed.get(0)
                : "; first failure: " + failed.get(0) + "; last: " + failed.get(failed.size() - 1);
    }

    /** Counts per {@code bucketMillis} of send time: one line per bucket that saw a request. */
    public List<String> timeline(long bucketMillis) {
        Map<Long, List<Outcome>> buckets = outcomes.stream()
                .collect(Collectors.groupingBy(o -> (long) (o.startMillis() / bucketMillis), TreeMap::new,
                        Collectors.toList()));
        List<String> lines = new ArrayList<>();
        buckets.forEach((b, list) -> {
            long ok = list.stream().filter(Outcome::ok).count();
            Map<String, Long> bad = list.stream().filter(o -> !o.ok())
                    .collect(Collectors.groupingBy(Outcome::label, TreeMap::new, Collectors.counting()));
            Map<String, Long> nodes = list.stream().filter(Outcome::ok)
                    .collect(Collectors.groupingBy(o -> String.valueOf(o.node()), TreeMap::new, Collectors.counting()));
            long island = list.stream().filter(o -> o.ok() && o.island()).count();
            double max = list.stream().mapToDouble(Outcome::latencyMillis).max().orElse(0);
            lines.add(String.format("  +%5.1fs  sent %3d  ok %3d%s%s  max %6.0f ms  %s", b * bucketMillis / 1000.0,
                    list.size(), ok, bad.isEmpty() ? "" : "  failed " + bad, island == 0 ? "" : "  island " + island,
                    max, nodes));
        });
        return lines;
    }
}
