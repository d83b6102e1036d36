package io.meshinfer.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.meshinfer.registry.ModelEntry;
import io.meshinfer.routing.MemberInfo;
import io.meshinfer.shard.ServedCounters;

/** The JSON of {@code GET /v1/cluster}, from a {@link ClusterSnapshot}. */
final class ClusterStatus {
    private ClusterStatus() {
    }

    static ObjectNode toJson(ClusterSnapshot s, ObjectMapper mapper) {
        ObjectNode n = mapper.createObjectNode();
        n.put("self", s.self());
        n.put("selfName", s.selfName());
        n.put("region", s.region());
        n.put("zone", s.zone());
        n.put("islandMode", s.islandMode());
        n.put("leader", s.leader());
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
}
