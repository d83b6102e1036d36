package io.meshinfer.registry;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * This node's latest copy of the replicated catalog, read lock-free on the request path.
 * Written only by the {@link Catalog} actor; listeners are called on its thread after
 * each change and must not block.
 */
public final class CatalogView {
    private volatile Map<String, ModelEntry> models = Map.of();
    private final List<Consumer<Map<String, ModelEntry>>> listeners = new CopyOnWriteArrayList<>();

    public Map<String, ModelEntry> models() {
        return models;
    }

    public Optional<ModelEntry> model(String name) {
        return Optional.ofNullable(models.get(name));
    }

    public Optional<ModelManifest> manifest(String model, String version) {
        ModelEntry e = models.get(model);
        return e == null ? Optional.empty() : e.version(version);
    }

    /** Every deployed version, sorted by model and version. */
    public List<ModelManifest> manifests() {
        Map<String, ModelManifest> sorted = new TreeMap<>();
        models.values().forEach(e -> e.versions().values().forEach(m -> sorted.put(m.key(), m)));
        return List.copyOf(sorted.values());
    }

    /**
     * Calls {@code listener} after each change; returns what removes it again. A listener that
     * belongs to one cluster membership must be removed when that membership ends: the view
     * outlives memberships, so a node that rejoins many times would otherwise gather them.
     */
    public Runnable addListener(Consumer<Map<String, ModelEntry>> listener) {
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    /** How many listeners are registered (one per running reconciler). */
    public int listenerCount() {
        return listeners.size();
    }

    void update(Map<String, ModelEntry> next) {
        models = Map.copyOf(next);
        for (Consumer<Map<String, ModelEntry>> l : listeners) {
            l.accept(models);
        }
    }
}
