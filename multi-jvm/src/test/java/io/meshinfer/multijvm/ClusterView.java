package io.meshinfer.multijvm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * One node's {@code GET /v1/cluster}, parsed. Fields the node does not send yet come out
 * empty or false; {@link #hasServedCounters()} and {@link #hasIslandMode()} say whether
 * those fields were present at all, so a check never passes on a missing field.
 */
public record ClusterView(String self, String selfName, String region, String zone, boolean islandMode,
                          boolean hasIslandMode, String leader, List<Member> members, List<Replica> replicas,
                          boolean hasServedCounters, List<Served> served, String raw) {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** A member as the viewing node sees it. */
    public record Member(String address, String name, String region, String zone, String status, boolean reachable) {
        public boolean upAndReachable() {
            return "Up".equals(status) && reachable;
        }

        @Override
        public String toString() {
            return name + "(" + status + (reachable ? "" : ",UNREACHABLE") + ")";
        }
    }

    /** A model replica and where it runs. */
    public record Replica(String model, String version, String replica, String node, String address, boolean ready,
                          String status) {
    }

    /** Requests the viewing node served, by model, version and the request's residency constraint. */
    public record Served(String model, String version, Set<String> residency, long count, long islandCount) {
    }

    public static ClusterView parse(String json) {
        JsonNode n;
        try {
            n = MAPPER.readTree(json);
        } catch (IOException e) {
            throw new UncheckedIOException("GET /v1/cluster is not JSON: " + json, e);
        }
        List<Member> members = new ArrayList<>();
        for (JsonNode m : n.path("members")) {
            members.add(new Member(m.path("address").asText(), m.path("name").asText(), m.path("region").asText(),
                    m.path("zone").asText(), m.path("status").asText(), m.path("reachable").asBoolean(false)));
        }
        List<Replica> replicas = new ArrayList<>();
        for (JsonNode r : n.path("replicas")) {
            replicas.add(new Replica(r.path("model").asText(), r.path("version").asText(), r.path("replica").asText(),
                    r.path("node").asText(), r.path("address").asText(), r.path("ready").asBoolean(false),
                    r.path("status").asText()));
        }
        List<Served> served = new ArrayList<>();
        for (JsonNode s : n.path("served")) {
            Set<String> residency = new TreeSet<>();
            s.path("residency").forEach(r -> residency.add(r.asText()));
            served.add(new Served(s.path("model").asText(), s.path("version").asText(), Set.copyOf(residency),
                    s.path("count").asLong(), s.path("islandCount").asLong()));
        }
        return new ClusterView(n.path("self").asText(), n.path("selfName").asText(), n.path("region").asText(),
                n.path("zone").asText(), n.path("islandMode").asBoolean(false), n.has("islandMode"),
                n.path("leader").asText(null), List.copyOf(members), List.copyOf(replicas), n.path("served").isArray(),
                List.copyOf(served), json);
    }

    /** A model in the catalog: its deployed versions and the share of unpinned traffic each takes. */
    public record ModelRouting(String model, List<String> versions, java.util.Map<String, Integer> weights) {
    }

    /** The catalog as this node sees it, by model name. */
    public java.util.Map<String, ModelRouting> models() {
        JsonNode n;
        try {
            n = MAPPER.readTree(raw);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        java.util.Map<String, ModelRouting> out = new java.util.TreeMap<>();
        for (JsonNode m : n.path("models")) {
            List<String> versions = new ArrayList<>();
            m.path("versions").forEach(v -> versions.add(v.asText()));
            java.util.Map<String, Integer> weights = new java.util.TreeMap<>();
            m.path("weights").fields().forEachRemaining(e -> weights.put(e.getKey(), e.getValue().asInt()));
            out.put(m.path("model").asText(), new ModelRouting(m.path("model").asText(), List.copyOf(versions),
                    java.util.Map.copyOf(weights)));
        }
        return out;
    }

    /** Names of the members that are Up and reachable from this node. */
    public Set<String> upNames() {
        return members.stream().filter(Member::upAndReachable).map(Member::name)
                .collect(Collectors.toCollection(TreeSet::new));
    }

    /** Names of every member in any status. */
    public Set<String> memberNames() {
        return members.stream().map(Member::name).collect(Collectors.toCollection(TreeSet::new));
    }

    /** Ready replicas of {@code model@version} that this node reports about itself. */
    public List<Replica> ownReadyReplicas(String model, String version) {
        return replicas.stream().filter(r -> r.ready() && r.model().equals(model) && r.version().equals(version)
                && r.node().equals(selfName)).toList();
    }

    /** Requests this node served for {@code model@version} whose residency was exactly {@code residency}. */
    public long servedCount(String model, String version, Set<String> residency) {
        return served.stream().filter(s -> s.model().equals(model) && s.version().equals(version)
                && s.residency().equals(residency)).mapToLong(Served::count).sum();
    }

    /** Requests this node served for {@code model} (any version and residency) in island mode. */
    public long islandCount(String model) {
        return served.stream().filter(s -> s.model().equals(model)).mapToLong(Served::islandCount).sum();
    }

    /** Members, compactly, for messages. */
    public String membersLine() {
        return selfName + " sees " + members + (hasIslandMode ? " islandMode=" + islandMode : "");
    }
}
