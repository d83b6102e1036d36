package io.meshinfer.shard;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * This node's own count of the requests it served, by model version and residency
 * constraint: the evidence, independent of any client, of where data was processed.
 * Bounded: at most {@value #MAX_CONSTRAINTS} distinct residency constraints per version
 * are counted apart; further ones share one line. Counting allocates nothing once a line
 * exists.
 */
public final class ServedCounters {
    /** One counter line; {@code residency} is empty for unrestricted requests. */
    public record Line(String model, String version, List<String> residency, long count, long islandCount) {
    }

    private static final int MAX_CONSTRAINTS = 256;
    private static final Set<String> OTHER = Set.of("(other)");

    /** model -> version -> residency constraint -> {all, island} */
    private final Map<String, Map<String, Map<Set<String>, LongAdder[]>>> counters = new ConcurrentHashMap<>();

    /** The counters of one model version, for a replica to count into without looking them up each time. */
    Version forVersion(String model, String version) {
        return new Version(counters
                .computeIfAbsent(model, m -> new ConcurrentHashMap<>())
                .computeIfAbsent(version, v -> new ConcurrentHashMap<>()));
    }

    /** One model version's lines. */
    static final class Version {
        private final Map<Set<String>, LongAdder[]> byResidency;

        private Version(Map<Set<String>, LongAdder[]> byResidency) {
            this.byResidency = byResidency;
        }

        void served(Set<String> residency, boolean island) {
            LongAdder[] c = byResidency.get(residency);
            if (c == null) {
                Set<String> key = byResidency.size() >= MAX_CONSTRAINTS ? OTHER : Set.copyOf(residency);
                c = byResidency.computeIfAbsent(key, k -> new LongAdder[] {new LongAdder(), new LongAdder()});
            }
            c[0].increment();
            if (island) {
                c[1].increment();
            }
        }
    }

    public List<Line> lines() {
        List<Line> out = new ArrayList<>();
        counters.forEach((model, versions) -> versions.forEach((version, byResidency) -> byResidency.forEach(
                (residency, c) -> out.add(new Line(model, version, List.copyOf(new TreeSet<>(residency)), c[0].sum(),
                        c[1].sum())))));
        out.sort((a, b) -> (a.model() + a.version() + a.residency()).compareTo(b.model() + b.version() + b.residency()));
        return out;
    }
}
