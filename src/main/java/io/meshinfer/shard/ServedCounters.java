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
 * Bounded by the number of distinct (model, version, residency) combinations seen.
 */
public final class ServedCounters {
    /** One counter line; {@code residency} is empty for unrestricted requests. */
    public record Line(String model, String version, List<String> residency, long count, long islandCount) {
    }

    private record Key(String model, String version, List<String> residency) {
    }

    private static final int MAX_KEYS = 10_000;

    private final Map<Key, LongAdder[]> counters = new ConcurrentHashMap<>();

    void served(String model, String version, Set<String> residency, boolean island) {
        Key key = new Key(model, version, List.copyOf(new TreeSet<>(residency)));
        LongAdder[] c = counters.get(key);
        if (c == null) {
            if (counters.size() >= MAX_KEYS) {
                key = new Key(model, version, List.of("(other)"));
            }
            c = counters.computeIfAbsent(key, k -> new LongAdder[] {new LongAdder(), new LongAdder()});
        }
        c[0].increment();
        if (island) {
            c[1].increment();
        }
    }

    public List<Line> lines() {
        List<Line> out = new ArrayList<>();
        counters.forEach((k, v) -> out.add(new Line(k.model(), k.version(), k.residency(), v[0].sum(), v[1].sum())));
        out.sort((a, b) -> (a.model() + a.version() + a.residency()).compareTo(b.model() + b.version() + b.residency()));
        return out;
    }
}
