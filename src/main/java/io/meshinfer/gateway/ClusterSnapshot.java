package io.meshinfer.gateway;

import io.meshinfer.observability.DriftMonitor;

import io.meshinfer.registry.Attestation;
import io.meshinfer.registry.ModelEntry;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.routing.MemberInfo;
import io.meshinfer.shard.MemoryBudget;
import io.meshinfer.shard.ServedCounters;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The cluster as one node sees it, for {@code GET /v1/cluster}: itself, its members,
 * every replica's published location, this node's own replicas with their batching
 * counters, the models with their traffic split, what this node served, and every node's
 * latest consistency attestation per version, and how replica memory is estimated
 * (against the members' budgets).
 */
public record ClusterSnapshot(String self, String selfName, String region, String zone, boolean islandMode,
                              String leader, List<MemberInfo> members, List<Replica> replicas,
                              List<LocalReplica> local, List<ModelEntry> models, List<ServedCounters.Line> served,
                              List<Attestation> attestations, List<DriftMonitor.Status> drift,
                              MemoryBudget memory) {

    /** A replica as published to the cluster. */
    public record Replica(String model, String version, int replica, String node, String address, String region,
                          boolean ready, boolean live) {
    }

    /**
     * Members that may host a replica placed in {@code regions} (empty: any): Up, reachable
     * replica hosts in one of them.
     */
    public List<MemberInfo> hostsFor(Set<String> regions) {
        return members.stream().filter(m -> m.replicaHost() && m.serving()
                && (regions.isEmpty() || regions.contains(m.region()))).toList();
    }

    /** The deployed versions whose replicas are published at the member {@code address}, one per replica. */
    public List<ModelManifest> manifestsOn(String address) {
        Map<String, ModelEntry> byModel = new HashMap<>();
        models.forEach(e -> byModel.put(e.model(), e));
        List<ModelManifest> on = new ArrayList<>();
        for (Replica r : replicas) {
            ModelEntry e = byModel.get(r.model());
            if (r.address().equals(address) && e != null) {
                e.version(r.version()).ifPresent(on::add);
            }
        }
        return on;
    }

    /** The estimated memory of the replicas published at the member {@code address}. */
    public long allocatedOn(String address) {
        return memory.allocated(manifestsOn(address));
    }

    /** Whether some member that may host a replica of {@code m} has room in its memory budget for one more. */
    public boolean roomFor(ModelManifest m) {
        return hostsFor(m.regions()).stream()
                .anyMatch(h -> memory.fits(h.memoryBudget(), manifestsOn(h.address()), m));
    }

    /** A replica loaded in this process. */
    public record LocalReplica(String entityId, String status, long requests, long runs, double meanBatch,
                               int outstanding) {
    }
}
