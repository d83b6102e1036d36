package io.meshinfer.observability;

import io.meshinfer.tensor.NamedTensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * This process's drift monitors, one per model version it serves. Replicas report each
 * answered request; monitors of versions this node no longer serves are dropped by
 * {@link #retain}, so the registry is bounded by the versions hosted here.
 */
public final class DriftRegistry {
    private final DriftSettings settings;
    private final Map<String, DriftMonitor> monitors = new ConcurrentHashMap<>();

    public DriftRegistry(DriftSettings settings) {
        this.settings = settings;
    }

    /** A registry that records nothing. */
    public static DriftRegistry off() {
        return new DriftRegistry(new DriftSettings(false, 1, 1, 2, 1, 1, 0, 2, 1));
    }

    public DriftSettings settings() {
        return settings;
    }

    public void observe(String model, String version, List<NamedTensor> inputs, List<NamedTensor> outputs) {
        if (!settings.enabled()
                || settings.sampleEvery() > 1 && ThreadLocalRandom.current().nextInt(settings.sampleEvery()) != 0) {
            return;
        }
        monitors.computeIfAbsent(model + "@" + version, k -> new DriftMonitor(model, version, settings))
                .observe(inputs, outputs);
    }

    /** Drops the monitors of versions ("model@version") not in {@code keep}. */
    public void retain(Set<String> keep) {
        monitors.keySet().retainAll(keep);
    }

    /** Every monitored version's status, sorted by model and version. */
    public List<DriftMonitor.Status> statuses() {
        List<DriftMonitor.Status> out = new ArrayList<>();
        new TreeMap<>(monitors).values().forEach(m -> out.add(m.status()));
        return out;
    }
}
