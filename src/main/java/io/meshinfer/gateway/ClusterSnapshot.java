package io.meshinfer.gateway;

import io.meshinfer.observability.DriftMonitor;

import io.meshinfer.registry.Attestation;
import io.meshinfer.registry.ModelEntry;
import io.meshinfer.routing.MemberInfo;
import io.meshinfer.shard.ServedCounters;
import java.util.List;

/**
 * The cluster as one node sees it, for {@code GET /v1/cluster}: itself, its members,
 * every replica's published location, this node's own replicas with their batching
 * counters, the models with their traffic split, what this node served, and every node's
 * latest consistency attestation per version.
 */
public record ClusterSnapshot(String self, String selfName, String region, String zone, boolean islandMode,
                              String leader, List<MemberInfo> members, List<Replica> replicas,
                              List<LocalReplica> local, List<ModelEntry> models, List<ServedCounters.Line> served,
                              List<Attestation> attestations, List<DriftMonitor.Status> drift) {

    /** A replica as published to the cluster. */
    public record Replica(String model, String version, int replica, String node, String address, String region,
                          boolean ready, boolean live) {
    }

    /** A replica loaded in this process. */
    public record LocalReplica(String entityId, String status, long requests, long runs, double meanBatch,
                               int outstanding) {
    }
}
