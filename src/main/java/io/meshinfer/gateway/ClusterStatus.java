package io.meshinfer.gateway;

import io.meshinfer.observability.DriftMonitor;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.meshinfer.registry.ModelEntry;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.registry.ReplicaId;
import io.meshinfer.routing.MemberInfo;
import io.meshinfer.shard.MemoryBudget;
import io.meshinfer.shard.ServedCounters;

/** The JSON of {@code GET /v1/cluster} and of a version's placement, from a {@link ClusterSnapshot}. */
final class ClusterStatus {
    private ClusterStatus() {
    }

    /**
     * The JSON of {@code GET /v1/models/{m}/versions/{v}/placement}: one entry per desired
     * replica of {@code m} (by replica id, in order) with its node, region and status
     * ({@code ready}, {@code loading}, {@code unreachable}, or {@code pending} while no node
     * has published it, with the {@code reason} it waits when this node can tell), and how many
     * are ready. For a pipeline, {@code manifests} is the pipeline followed by its stages, and the
     * replicas listed are the stages' ({@code m~stage-i@v#r}).
     */
    static ObjectNode placementJson(ClusterSnapshot s, java.util.List<ModelManifest> manifests, ObjectMapper mapper) {
        ModelManifest head = manifests.get(0);
        ObjectNode n = mapper.createObjectNode();
        n.put("model", head.model());
        n.put("version", head.version());
        n.put("sha256", head.sha256());
        if (head.isPipeline()) {
            n.put("stages", head.stages());
        }
        ArrayNode placement = n.putArray("placement");
        int ready = 0;
        int replicas = 0;
        for (ModelManifest m : manifests) {
            for (String id : m.replicaIds()) {
                int index = ReplicaId.parse(id).replica();
                replicas++;
                ClusterSnapshot.Replica r = s.replicas().stream()
                        .filter(x -> x.model().equals(m.model()) && x.version().equals(m.version())
                                && x.replica() == index)
                        .findFirst().orElse(null);
                ObjectNode o = placement.addObject();
                o.put("replica", id);
                if (r == null) {
                    o.putNull("node");
                    o.putNull("region");
                    o.put("ready", false);
                    o.put("status", "pending");
                    pendingReason(s, m).ifPresent(reason -> o.put("reason", reason));
                    continue;
                }
                boolean isReady = r.ready() && r.live();
                ready += isReady ? 1 : 0;
                o.put("node", r.node());
                o.put("region", r.region());
                o.put("ready", isReady);
                o.put("status", !r.live() ? "unreachable" : r.ready() ? "ready" : "loading");
            }
        }
        n.put("replicas", replicas);
        n.put("ready", ready);
        return n;
    }

    /**
     * Why a replica of {@code m} that no node has published may be waiting, when this node can
     * tell: no replica host may run it (regions), or none of them has room left in its memory
     * budget. Empty otherwise (it is being placed or loaded).
     */
    static java.util.Optional<String> pendingReason(ClusterSnapshot s, ModelManifest m) {
        java.util.List<MemberInfo> hosts = s.hostsFor(m.regions());
        if (hosts.isEmpty()) {
            return java.util.Optional.of("no reachable replica host"
                    + (m.regions().isEmpty() ? "" : " in regions " + m.regions()));
        }
        if (s.roomFor(m)) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of("no node has memory budget left: a replica needs an estimated "
                + MemoryBudget.human(s.memory().estimate(m)) + " (model file " + MemoryBudget.human(m.sizeBytes())
                + " x memory-overhead " + s.memory().overhead() + ")");
    }

    static ObjectNode toJson(ClusterSnapshot s, ObjectMapper mapper) {
        ObjectNode n = mapper.createObjectNode();
        n.put("self", s.self());
        n.put("selfName", s.selfName());
        n.put("region", s.region());
        n.put("zone", s.zone());
        n.put("islandMode", s.islandMode());
        n.put("leader", s.leader());
        n.put("memoryOverhead", s.memory().overhead());
        ArrayNode members = n.putArray("members");
        for (MemberInfo m : s.members()) {
            ObjectNode o = members.addObject();
            o.put("address", m.address());
            o.put("name", m.name());
            o.put("region", m.region());
            o.put("zone", m.zone());
            o.put("status", m.status());
            o.put("reachable", m.reachable());
            o.put("http", m.http());
            if (!m.artifacts().isEmpty()) {
                o.put("artifacts", m.artifacts());
            }
            if (m.memoryBudget().isPresent()) {
                o.put("memoryBudget", m.memoryBudget().getAsLong());
            } else {
                o.putNull("memoryBudget");
            }
            o.put("memoryAllocated", s.allocatedOn(m.address()));
        }
        ArrayNode replicas = n.putArray("replicas");
        for (ClusterSnapshot.Replica r : s.replicas()) {
            ObjectNode o = replicas.addObject();
            o.put("model", r.model());
            o.put("version", r.version());
            o.put("replica", r.replica());
            o.put("node", r.node());
            o.put("address", r.address());
            o.put("region", r.region());
            o.put("ready", r.ready() && r.live());
            o.put("status", !r.live() ? "unreachable" : r.ready() ? "ready" : "loading");
        }
        ArrayNode local = n.putArray("local");
        for (ClusterSnapshot.LocalReplica r : s.local()) {
            ObjectNode o = local.addObject();
            o.put("replica", r.entityId());
            o.put("status", r.status());
            o.put("requests", r.requests());
            o.put("runs", r.runs());
            o.put("meanBatch", r.meanBatch());
            o.put("outstanding", r.outstanding());
        }
        ArrayNode models = n.putArray("models");
        for (ModelEntry entry : s.models()) {
            ObjectNode o = models.addObject();
            o.put("model", entry.model());
            ArrayNode versions = o.putArray("versions");
            entry.versions().keySet().stream().sorted().forEach(versions::add);
            ObjectNode weights = o.putObject("weights");
            entry.weights().forEach(weights::put);
            o.put("epoch", entry.epoch());
            o.set("attestations", AttestationStatus.summary(entry, s.attestations(), mapper));
        }
        ArrayNode drift = n.putArray("drift");
        for (DriftMonitor.Status d : s.drift()) {
            ObjectNode o = drift.addObject();
            o.put("model", d.model());
            o.put("version", d.version());
            o.put("node", s.selfName());
            o.put("drifted", d.drifted());
            putNumber(o, "maxPsi", d.maxPsi());
            ArrayNode features = o.putArray("features");
            for (DriftMonitor.Feature f : d.features()) {
                ObjectNode fo = features.addObject();
                fo.put("name", f.name());
                fo.put("kind", f.kind());
                fo.put("referenceReady", f.referenceReady());
                fo.put("windowSamples", f.windowSamples());
                putNumber(fo, "psi", f.psi());
                putNumber(fo, "mean", f.mean());
                putNumber(fo, "referenceMean", f.referenceMean());
                putNumber(fo, "std", f.std());
                putNumber(fo, "referenceStd", f.referenceStd());
            }
        }
        ArrayNode served = n.putArray("served");
        for (ServedCounters.Line l : s.served()) {
            ObjectNode o = served.addObject();
            o.put("model", l.model());
            o.put("version", l.version());
            ArrayNode residency = o.putArray("residency");
            l.residency().forEach(residency::add);
            o.put("count", l.count());
            o.put("islandCount", l.islandCount());
        }
        return n;
    }

    /** A number, or null when it is not finite (e.g. a PSI before the window has data). */
    private static void putNumber(ObjectNode o, String name, double v) {
        if (Double.isFinite(v)) {
            o.put(name, v);
        } else {
            o.putNull(name);
        }
    }
}
