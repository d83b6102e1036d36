package io.meshinfer.shard;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * This node's copy of every replica's published location, read lock-free on the request
 * path; written by {@link ReplicaLocations}. Entries of nodes that died linger until the
 * leader prunes them: readers must check the node is a serving member.
 */
public final class ReplicaLocationView {
    private volatile Map<String, ReplicaLocation> locations = Map.of();

    public Optional<ReplicaLocation> get(String entityId) {
        return Optional.ofNullable(locations.get(entityId));
    }

    public Map<String, ReplicaLocation> all() {
        return locations;
    }

    /** The published locations of these entity ids (absent ids are skipped). */
    public List<ReplicaLocation> of(List<String> entityIds) {
        Map<String, ReplicaLocation> snapshot = locations;
        List<ReplicaLocation> out = new ArrayList<>(entityIds.size());
        for (String id : entityIds) {
            ReplicaLocation l = snapshot.get(id);
            if (l != null) {
                out.add(l);
            }
        }
        return out;
    }

    void update(Map<String, ReplicaLocation> next) {
        locations = Map.copyOf(next);
    }
}
