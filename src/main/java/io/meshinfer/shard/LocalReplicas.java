package io.meshinfer.shard;

import io.meshinfer.batching.Batcher;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The replicas running on this node and their state, written by the replicas themselves
 * and read by the gateway (readiness, status) without asking an actor.
 */
public final class LocalReplicas {
    /** Where a replica is in its life. */
    public enum Status { LOADING, READY, FAILED, STOPPING }

    /**
     * @param batcher present while the replica is READY or STOPPING
     * @param detail why it failed, when it did
     */
    public record Entry(String entityId, String model, String version, Status status, Batcher batcher,
                        String detail) {
        public Optional<Batcher> batcherIfAny() {
            return Optional.ofNullable(batcher);
        }
    }

    private final Map<String, Entry> entries = new ConcurrentHashMap<>();

    void put(Entry e) {
        entries.put(e.entityId(), e);
    }

    void remove(String entityId) {
        entries.remove(entityId);
    }

    public Optional<Entry> get(String entityId) {
        return Optional.ofNullable(entries.get(entityId));
    }

    /** Every local replica, sorted by entity id. */
    public List<Entry> all() {
        return List.copyOf(new TreeMap<>(entries).values());
    }

    /** Whether a replica of {@code model@version} on this node is ready to serve. */
    public boolean anyReady(String model, String version) {
        for (Entry e : entries.values()) {
            if (e.status() == Status.READY && e.model().equals(model) && e.version().equals(version)) {
                return true;
            }
        }
        return false;
    }
}
