package io.meshinfer.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.meshinfer.registry.ModelEntry;
import io.meshinfer.registry.ReplicaId;
import io.meshinfer.shard.LocalReplicas;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.typed.Cluster;

/**
 * The JSON of {@code GET /v1/cluster}: this node, every member with its region, zone,
 * status and reachability as this node sees them, the replicas, and each model's
 * versions and traffic split.
 */
final class ClusterStatus {
    private ClusterStatus() {
    }

    /** The role prefix under which a node publishes its region, zone and name. */
    static String role(Set<String> roles, String prefix, String fallback) {
        for (String r : roles) {
            if (r.startsWith(prefix)) {
                return r.substring(prefix.length());
            }
        }
        return fallback;
    }

    static ObjectNode toJson(ActorSystem<?> system, HttpGateway.GatewayContext ctx, ObjectMapper mapper) {
        Cluster cluster = Cluster.get(system);
        ClusterEvent.CurrentClusterState state = cluster.state();
        ObjectNode n = mapper.createObjectNode();
        n.put("self", cluster.selfMember().address().toString());
        n.put("selfName", ctx.nodeName());
        n.put("region", ctx.region());
        n.put("zone", ctx.zone());
        n.put("leader", state.getLeader() == null ? null : state.getLeader().toString());
        Set<Member> unreachable = state.getUnreachable();
        ArrayNode members = n.putArray("members");
        for (Member m : state.getMembers()) {
            ObjectNode o = members.addObject();
            o.put("address", m.address().toString());
            o.put("name", role(m.getRoles(), "node:", m.address().toString()));
            o.put("region", role(m.getRoles(), "region:", ""));
            o.put("zone", role(m.getRoles(), "zone:", ""));
            o.put("status", m.status().toString());
            o.put("reachable", !unreachable.contains(m));
        }
        ArrayNode replicas = n.putArray("replicas");
        for (LocalReplicas.Entry e : ctx.local().all()) {
            ObjectNode o = replicas.addObject();
            ReplicaId id = ReplicaId.parse(e.entityId());
            o.put("model", id.model());
            o.put("version", id.version());
            o.put("replica", id.replica());
            o.put("node", ctx.nodeName());
            o.put("address", cluster.selfMember().address().toString());
            o.put("ready", e.status() == LocalReplicas.Status.READY);
            o.put("status", e.status().name().toLowerCase(java.util.Locale.ROOT));
            if (e.detail() != null) {
                o.put("detail", e.detail());
            }
            e.batcherIfAny().ifPresent(b -> {
                var s = b.stats();
                o.put("requests", s.succeeded() + s.failed());
                o.put("runs", s.runs());
                o.put("meanBatch", Math.round(s.meanBatchRequests() * 100) / 100.0);
            });
        }
        ArrayNode models = n.putArray("models");
        for (ModelEntry entry : ctx.router().catalog().models().values()) {
            ObjectNode o = models.addObject();
            o.put("model", entry.model());
            ArrayNode versions = o.putArray("versions");
            entry.versions().keySet().stream().sorted().forEach(versions::add);
            ObjectNode weights = o.putObject("weights");
            entry.weights().forEach(weights::put);
            o.put("epoch", entry.epoch());
        }
        return n;
    }
}
