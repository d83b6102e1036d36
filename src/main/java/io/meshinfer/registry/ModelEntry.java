package io.meshinfer.registry;

import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One model in the catalog: its deployed versions and its routing table (the share of
 * unpinned traffic each version takes, in percent, with an epoch that grows on every
 * change). The first version deployed takes all unpinned traffic; later versions take
 * none until a rollout moves it. Removing the version that serves the traffic hands it to
 * the most recently deployed remaining version.
 */
public record ModelEntry(String model, Map<String, ModelManifest> versions, Map<String, Integer> weights,
                         long epoch) {

    public ModelEntry {
        versions = Map.copyOf(versions);
        weights = Map.copyOf(weights);
    }

    public static ModelEntry empty(String model) {
        return new ModelEntry(model, Map.of(), Map.of(), 0);
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
        return new ModelEntry(model, v, w, epoch + 1);
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
        return new ModelEntry(model, v, w, epoch + 1);
    }

    public Optional<ModelManifest> version(String version) {
        return Optional.ofNullable(versions.get(version));
    }

    /** Picks the version an unpinned request goes to, by weight; empty if none takes traffic. */
    public Optional<ModelManifest> pickVersion() {
        int total = weights.values().stream().mapToInt(Integer::intValue).sum();
        if (total <= 0) {
            return Optional.empty();
        }
        int r = weights.size() == 1 ? 0 : ThreadLocalRandom.current().nextInt(total);
        for (Map.Entry<String, Integer> e : new LinkedHashMap<>(weights).entrySet()) {
            r -= e.getValue();
            if (r < 0) {
                return version(e.getKey());
            }
        }
        return Optional.empty();
    }
}
