package io.meshinfer.shard;

import io.meshinfer.registry.CatalogView;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.registry.ReplicaId;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.Address;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.ShardCoordinator;
import org.apache.pekko.dispatch.Futures;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.collection.immutable.IndexedSeq;
import scala.concurrent.Future;

/**
 * Where replicas go (each replica is one shard): only to reachable, Up replica hosts in
 * a region the model version's placement allows, preferring a node that holds no other
 * replica of the same version (anti-affinity), then one holding the fewest replicas of other
 * stages of the same pipeline (stages of a model deployed with {@code stages=K} spread over
 * the nodes, best effort), then the node with the fewest replicas.
 *
 * <p>Rebalancing moves at most {@link #MAX_MOVES} replicas per round: those on a node whose
 * region is not (or no longer) allowed, and a second replica of a version on one node
 * while an eligible node holds none (after a failed node returns). When no eligible node
 * exists the allocation fails and the coordinator asks again later, rather than putting a
 * replica where its placement forbids. Runs inside the shard coordinator (the oldest
 * node); it reads that node's catalog view.
 */
public final class PlacementStrategy extends ShardCoordinator.AbstractShardAllocationStrategy
        implements ShardCoordinator.ActorSystemDependentAllocationStrategy {
    private static final Logger log = LoggerFactory.getLogger(PlacementStrategy.class);
    static final int MAX_MOVES = 2;

    private final CatalogView catalog;
    private final java.util.Map<String, Long> firstAttempt = new java.util.concurrent.ConcurrentHashMap<>();
    private static final long REGISTRATION_GRACE_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
    /** Members (by unique address) whose shard region has registered: one missing later is leaving, not joining. */
    private final Set<org.apache.pekko.cluster.UniqueAddress> registeredOnce =
            java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile Cluster cluster;

    public PlacementStrategy(CatalogView catalog) {
        this.catalog = catalog;
    }

    @Override
    public void start(ActorSystem system) {
        this.cluster = Cluster.get(system);
    }

    /** A region (shard host) with what placement needs to know about its node. */
    private record Host(ActorRef region, Address address, String nodeRegion, boolean eligible, List<String> shards) {
    }

    private List<Host> hosts(Map<ActorRef, IndexedSeq<String>> allocations) {
        Map<Address, Member> members = new HashMap<>();
        Set<Member> unreachable = cluster.state().getUnreachable();
        for (Member m : cluster.state().getMembers()) {
            members.put(m.address(), m);
        }
        List<Host> hosts = new ArrayList<>();
        for (Map.Entry<ActorRef, IndexedSeq<String>> e : allocations.entrySet()) {
            Address a = e.getKey().path().address();
            Address address = a.hasGlobalScope() ? a : cluster.selfAddress();
            Member m = members.get(address);
            if (m != null) {
                rememberRegistered(m);
            }
            boolean up = m != null && m.status() == MemberStatus.up() && !unreachable.contains(m)
                    && m.hasRole(ModelReplica.REPLICA_HOST_ROLE);
            String region = m == null ? "" : roleValue(m.getRoles(), "region:");
            List<String> shards = new ArrayList<>();
            scala.jdk.javaapi.CollectionConverters.asJava(e.getValue()).forEach(shards::add);
            hosts.add(new Host(e.getKey(), address, region, up, shards));
        }
        hosts.sort(Comparator.comparing(h -> h.address().toString()));
        return hosts;
    }

    private static String roleValue(Set<String> roles, String prefix) {
        for (String r : roles) {
            if (r.startsWith(prefix)) {
                return r.substring(prefix.length());
            }
        }
        return "";
    }

    private static String versionKey(String shardId) {
        try {
            return ReplicaId.parse(shardId).key();
        } catch (IllegalArgumentException e) {
            return shardId;
        }
    }

    private Optional<ModelManifest> manifest(String shardId) {
        try {
            ReplicaId id = ReplicaId.parse(shardId);
            return catalog.manifest(id.model(), id.version());
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    private static boolean allowed(ModelManifest m, Host h) {
        return m.regions().isEmpty() || m.regions().contains(h.nodeRegion());
    }

    private static long sameVersion(Host h, String key) {
        return h.shards().stream().filter(s -> versionKey(s).equals(key)).count();
    }

    /**
     * The pipeline a stage replica belongs to ({@code m@v} for a shard {@code m~stage-i@v#r}),
     * or null for a plain model's replica.
     */
    static String pipelineKey(String shardId) {
        try {
            ReplicaId id = ReplicaId.parse(shardId);
            String pipeline = ModelManifest.pipelineOf(id.model());
            return pipeline == null ? null : pipeline + "@" + id.version();
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** Stage replicas of the same pipeline on a host: stages are kept apart, best effort, after replicas. */
    private static long samePipeline(Host h, String pipeline) {
        return h.shards().stream().filter(s -> pipeline.equals(pipelineKey(s))).count();
    }

    @Override
    public Future<ActorRef> allocateShard(ActorRef requester, String shardId,
                                          Map<ActorRef, IndexedSeq<String>> currentShardAllocations) {
        Optional<ModelManifest> manifest = manifest(shardId);
        if (manifest.isEmpty()) {
            return Futures.failed(new IllegalStateException("the manifest of " + shardId
                    + " has not reached the shard coordinator yet"));
        }
        String key = versionKey(shardId);
        List<Host> candidates = hosts(currentShardAllocations).stream()
                .filter(h -> h.eligible() && allowed(manifest.get(), h)).toList();
        if (candidates.isEmpty()) {
            log.warn("no reachable replica host in regions {} for {}; it waits for one", manifest.get().regions(),
                    shardId);
            return Futures.failed(new IllegalStateException("no eligible node for " + shardId));
        }
        String pipeline = pipelineKey(shardId);
        Host best = candidates.stream().min(Comparator
                        .comparingLong((Host h) -> sameVersion(h, key))
                        .thenComparingLong(h -> pipeline == null ? 0 : samePipeline(h, pipeline))
                        .thenComparingInt(h -> h.shards().size())
                        .thenComparing(h -> h.address().toString()))
                .orElseThrow();
        if (sameVersion(best, key) > 0 && unregisteredEligibleMember(manifest.get(), candidates)
                && waitingSince(shardId) < REGISTRATION_GRACE_NANOS) {
            // a node that would keep the replicas apart has joined but its shard region has not
            // registered yet: ask again shortly rather than co-locate the replicas
            return Futures.failed(new IllegalStateException("waiting for a joining node's shard region to place "
                    + shardId + " apart from its other replicas"));
        }
        firstAttempt.remove(shardId);
        return Futures.successful(best.region());
    }

    /** How long allocation of {@code shardId} has been deferred. */
    private long waitingSince(String shardId) {
        if (firstAttempt.size() > 10_000) {
            firstAttempt.clear(); // bounded: at worst a deferral restarts its grace period
        }
        return System.nanoTime() - firstAttempt.computeIfAbsent(shardId, k -> System.nanoTime());
    }

    private void rememberRegistered(Member m) {
        if (registeredOnce.size() > 10_000) {
            registeredOnce.clear(); // bounded: at worst a leaving node is waited for once more
        }
        registeredOnce.add(m.uniqueAddress());
    }

    /**
     * Whether an Up, reachable replica host in an allowed region has no registered shard
     * region yet (it is joining). A member whose region registered before and is gone from
     * the allocations now is shutting its region down (a graceful leave hands its shards
     * off while it is still Up): waiting for it would only delay the hand-off.
     */
    private boolean unregisteredEligibleMember(ModelManifest m, List<Host> registered) {
        Set<Address> known = new HashSet<>();
        registered.forEach(h -> known.add(h.address()));
        Set<Member> unreachable = cluster.state().getUnreachable();
        for (Member member : cluster.state().getMembers()) {
            if (member.status() == MemberStatus.up() && !unreachable.contains(member)
                    && member.hasRole(ModelReplica.REPLICA_HOST_ROLE) && !known.contains(member.address())
                    && !registeredOnce.contains(member.uniqueAddress())
                    && (m.regions().isEmpty() || m.regions().contains(roleValue(member.getRoles(), "region:")))) {
                return true;
            }
        }
        return false;
    }

    @Override
    public Future<Set<String>> rebalance(Map<ActorRef, IndexedSeq<String>> currentShardAllocations,
                                         Set<String> rebalanceInProgress) {
        List<Host> hosts = hosts(currentShardAllocations);
        Set<String> moves = new HashSet<>();
        for (Host h : hosts) {
            for (String shard : h.shards()) {
                if (moves.size() >= MAX_MOVES || rebalanceInProgress.contains(shard)) {
                    continue;
                }
                Optional<ModelManifest> m = manifest(shard);
                if (m.isEmpty()) {
                    continue;
                }
                String key = versionKey(shard);
                boolean misplaced = !allowed(m.get(), h);
                boolean crowded = sameVersion(h, key) > 1;
                boolean betterExists = hosts.stream().anyMatch(o -> o != h && o.eligible() && allowed(m.get(), o)
                        && (misplaced || sameVersion(o, key) == 0));
                if ((misplaced || crowded) && betterExists && !anyMoving(moves, rebalanceInProgress, key)) {
                    moves.add(shard);
                }
            }
        }
        if (!moves.isEmpty()) {
            log.info("rebalancing replicas {}", moves);
        }
        return Futures.successful(moves);
    }

    /** One move per model version at a time, so a version never loses two replicas at once. */
    private static boolean anyMoving(Set<String> moves, Set<String> inProgress, String key) {
        for (String s : moves) {
            if (versionKey(s).equals(key)) {
                return true;
            }
        }
        for (String s : inProgress) {
            if (versionKey(s).equals(key)) {
                return true;
            }
        }
        return false;
    }
}
