package io.meshinfer.registry;

import io.meshinfer.rollout.Rollout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One model in the catalog: its deployed versions, its routing table (the share of
 * unpinned traffic each version takes, in percent, with an epoch that grows on every
 * change) and its latest rollout (null if none). The first version deployed takes all
 * unpinned traffic; later versions take none until a rollout moves it. Removing the
 * version that serves the traffic hands it to the most recently deployed remaining version.
 * Written only by the {@link io.meshinfer.rollout.RolloutManager} singleton.
 */
public record ModelEntry(String model, Map<String, ModelManifest> versions, Map<String, Integer> weights,
                         long epoch, Rollout rollout) {

    public ModelEntry {
        versions = Map.copyOf(versions);
        weights = Map.copyOf(weights);
    }

    public static ModelEntry empty(String model) {
        return new ModelEntry(model, Map.of(), Map.of(), 0, null);
    }

    /** This entry with {@code m} added (or replaced). */
    public ModelEntry withVersion(ModelManifest m) {
        Map<String, ModelManifest> v = new HashMap<>(versions);
        v.put(m.version(), m);
        Map<String, Integer> w = new HashMap<>(weights);
        if (w.values().stream().mapToInt(Integer::intValue).sum() == 0) {
            w.clear();
            w.put(m.version(), 100);
        }
        return new ModelEntry(model, v, w, epoch + 1, rollout);
    }

    /** This entry without {@code version}. */
    public ModelEntry withoutVersion(String version) {
        Map<String, ModelManifest> v = new HashMap<>(versions);
        v.remove(version);
        Map<String, Integer> w = new HashMap<>(weights);
        w.remove(version);
        if (w.values().stream().mapToInt(Integer::intValue).sum() == 0) {
            w.clear();
            v.values().stream().max(Comparator.comparingLong(ModelManifest::deployedAtMillis))
                    .ifPresent(newest -> w.put(newest.version(), 100));
        }
        return new ModelEntry(model, v, w, epoch + 1, rollout);
    }

    /** This entry with a new routing table and rollout state, as one change. */
    public ModelEntry withRouting(Map<String, Integer> newWeights, Rollout newRollout) {
        Map<String, Integer> w = new HashMap<>();
        newWeights.forEach((k, val) -> {
            if (val > 0) {
                w.put(k, val);
            }
        });
        return new ModelEntry(model, versions, w, epoch + 1, newRollout);
    }

    /**
     * Whether any version is {@code kind} (e.g. a pipeline or an ensemble): the one check
     * requests to every other model pay before a version is chosen, a loop over a few versions.
     */
    public boolean anyVersion(java.util.function.Predicate<ModelManifest> kind) {
        for (ModelManifest m : versions().values()) {
            if (kind.test(m)) {
                return true;
            }
        }
        return false;
    }

    public Optional<ModelManifest> version(String version) {
        return Optional.ofNullable(versions.get(version));
    }

    /** The version taking the most unpinned traffic (the newest among equals), if any. */
    public Optional<String> servingVersion() {
        return weights.entrySet().stream().filter(e -> e.getValue() > 0)
                .max(Comparator.<Map.Entry<String, Integer>>comparingInt(Map.Entry::getValue)
                        .thenComparingLong(e -> deployedAt(e.getKey())))
                .map(Map.Entry::getKey);
    }

    /** The active rollout, if one is running or paused. */
    public Optional<Rollout> activeRollout() {
        return rollout != null && rollout.active() ? Optional.of(rollout) : Optional.empty();
    }

    /** Picks the version an unpinned request goes to, by weight; empty if none takes traffic. */
    public Optional<ModelManifest> pickVersion() {
        return pickVersion(null);
    }

    /**
     * Picks the version an unpinned request goes to, by weight. With a routing key the pick
     * is sticky: the key hashes to a fixed point in 0..99 and versions are laid out newest
     * first, so while a rollout raises the new version's weight a caller only ever moves
     * from the old version to the new one, never back.
     */
    public Optional<ModelManifest> pickVersion(String routingKey) {
        int total = 0;
        for (int w : weights.values()) {
            total += w;
        }
        if (total <= 0) {
            return Optional.empty();
        }
        if (weights.size() == 1) {
            return version(weights.keySet().iterator().next());
        }
        List<Map.Entry<String, Integer>> order = new ArrayList<>(weights.entrySet());
        order.sort(Comparator.<Map.Entry<String, Integer>>comparingLong(e -> -deployedAt(e.getKey()))
                .thenComparing(Map.Entry::getKey));
        int r = routingKey == null ? ThreadLocalRandom.current().nextInt(total) : bucket(routingKey, total);
        for (Map.Entry<String, Integer> e : order) {
            r -= e.getValue();
            if (r < 0) {
                return version(e.getKey());
            }
        }
        return Optional.empty();
    }

    private long deployedAt(String version) {
        ModelManifest m = versions.get(version);
        return m == null ? 0 : m.deployedAtMillis();
    }

    /** A stable point in 0..total-1 for a routing key (FNV-1a, the same on every node and JVM). */
    static int bucket(String key, int total) {
        int h = 0x811c9dc5;
        for (byte b : key.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x01000193;
        }
        return (int) Long.remainderUnsigned(h & 0xffffffffL, total);
    }
}
