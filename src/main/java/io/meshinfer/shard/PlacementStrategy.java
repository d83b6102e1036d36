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
import java.util.OptionalLong;
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
 * a region the model version's placement allows whose memory budget still has room for the
 * replica's estimate ({@link MemoryBudget}; a node without a budget always has room), preferring
 * a node that holds no other replica of the same version (anti-affinity), then one holding the
 * fewest replicas of other stages of the same pipeline (stages of a model deployed with
 * {@code stages=K} spread over the nodes, best effort), then the node with the fewest replicas.
 *
 * <p>Rebalancing moves at most {@link #MAX_MOVES} replicas per round: those on a node whose
 * region is not (or no longer) allowed, a second replica of a version on one node while an
 * eligible node holds none (after a failed node returns), and those on a node over its budget,
 * and only to a node where the replica fits. When no eligible node exists, or none has room,
 * the allocation fails and the coordinator asks again later, rather than putting a replica
 * where its placement forbids or its node cannot hold it (no room is logged at WARN once per
 * version). Runs inside the shard coordinator (the oldest node); it reads that node's catalog
 * view.
 */
public final class PlacementStrategy extends ShardCoordinator.AbstractShardAllocationStrategy
        implements ShardCoordinator.ActorSystemDependentAllocationStrategy {
    private static final Logger log = LoggerFactory.getLogger(PlacementStrategy.class);
    static final int MAX_MOVES = 2;
    private static final int MAX_REMEMBERED = 10_000;

    private final CatalogView catalog;
    private final MemoryBudget memory;
    private final PlacementDeferrals deferrals;
    private final java.util.Map<String, Long> firstAttempt = new java.util.concurrent.ConcurrentHashMap<>();
    private static final long REGISTRATION_GRACE_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
    /** Members (by unique address) whose shard region has registered: one missing later is leaving, not joining. */
    private final Set<org.apache.pekko.cluster.UniqueAddress> registeredOnce =
            java.util.concurrent.ConcurrentHashMap.newKeySet();
    /**
     * Versions already warned about, as {@code reason:m@v} (no node with room, no eligible node),
     * so each warning is logged once until the version is placed.
     */
    private final Set<String> warned = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile Cluster cluster;

    /** @param deferrals counts the allocations deferred, by reason (the node's, across memberships) */
    public PlacementStrategy(CatalogView catalog, MemoryBudget memory, PlacementDeferrals deferrals) {
        this.catalog = catalog;
        this.memory = memory;
        this.deferrals = deferrals;
    }

    @Override
    public void start(ActorSystem system) {
        this.cluster = Cluster.get(system);
    }

    /**
     * A region (shard host) with what placement needs to know about its node.
     *
     * @param budget the node's memory budget in bytes; empty: unlimited
     */
    record Host(ActorRef region, Address address, String nodeRegion, boolean eligible, OptionalLong budget,
                List<String> shards) {
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
            OptionalLong budget = m == null ? OptionalLong.empty() : MemoryBudget.budgetOf(m.getRoles());
            List<String> shards = new ArrayList<>();
            scala.jdk.javaapi.CollectionConverters.asJava(e.getValue()).forEach(shards::add);
            hosts.add(new Host(e.getKey(), address, region, up, budget, shards));
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
        return manifestOf(shardId, catalog::manifest);
    }

    private static Optional<ModelManifest> manifestOf(String shardId, Manifests manifests) {
        try {
            ReplicaId id = ReplicaId.parse(shardId);
            return manifests.manifest(id.model(), id.version());
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** Looks a version's manifest up (the catalog's, or a test's). */
    @FunctionalInterface
    interface Manifests {
        Optional<ModelManifest> manifest(String model, String version);
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

    /** The manifests of the replicas a host holds (those still deployed). */
    private static List<ModelManifest> onHost(Host h, Manifests manifests) {
        List<ModelManifest> on = new ArrayList<>();
        for (String s : h.shards()) {
            manifestOf(s, manifests).ifPresent(on::add);
        }
        return on;
    }

    /** Whether one more replica of {@code m} fits the host's memory budget. */
    static boolean fits(Host h, ModelManifest m, Manifests manifests, MemoryBudget memory) {
        return memory.fits(h.budget(), onHost(h, manifests), m);
    }

    /**
     * The host that should take replica {@code shardId} of {@code m}: among the eligible hosts in
     * an allowed region where it fits, the one preferred by anti-affinity, then pipeline-stage
     * spreading, then fewest replicas; empty when no host qualifies.
     */
    static Optional<Host> choose(String shardId, ModelManifest m, List<Host> hosts, Manifests manifests,
                                 MemoryBudget memory) {
        String key = versionKey(shardId);
        String pipeline = pipelineKey(shardId);
        return hosts.stream()
                .filter(h -> h.eligible() && allowed(m, h) && fits(h, m, manifests, memory))
                .min(Comparator
                        .comparingLong((Host h) -> sameVersion(h, key))
                        .thenComparingLong(h -> pipeline == null ? 0 : samePipeline(h, pipeline))
                        .thenComparingInt(h -> h.shards().size())
                        .thenComparing(h -> h.address().toString()));
    }

    @Override
    public Future<ActorRef> allocateShard(ActorRef requester, String shardId,
                                          Map<ActorRef, IndexedSeq<String>> currentShardAllocations) {
        Optional<ModelManifest> manifest = manifest(shardId);
        if (manifest.isEmpty()) {
            return deferred(PlacementDeferrals.Reason.MANIFEST_PENDING, "the manifest of " + shardId
                    + " has not reached the shard coordinator yet");
        }
        String key = versionKey(shardId);
        List<Host> hosts = hosts(currentShardAllocations);
        List<Host> candidates = hosts.stream().filter(h -> h.eligible() && allowed(manifest.get(), h)).toList();
        if (candidates.isEmpty()) {
            if (firstWarning(PlacementDeferrals.Reason.NO_ELIGIBLE_NODE, key)) {
                log.warn("no reachable replica host in regions {} for {}; it waits for one",
                        manifest.get().regions(), shardId);
            }
            return deferred(PlacementDeferrals.Reason.NO_ELIGIBLE_NODE, "no eligible node for " + shardId);
        }
        Optional<Host> chosen = choose(shardId, manifest.get(), candidates, catalog::manifest, memory);
        if (chosen.isEmpty()) {
            warnNoRoom(shardId, manifest.get(), candidates);
            return deferred(PlacementDeferrals.Reason.NO_MEMORY_BUDGET,
                    "no node has memory budget left for " + shardId);
        }
        Host best = chosen.get();
        if (sameVersion(best, key) > 0 && unregisteredEligibleMember(manifest.get(), candidates)
                && waitingSince(shardId) < REGISTRATION_GRACE_NANOS) {
            // a node that would keep the replicas apart has joined but its shard region has not
            // registered yet: ask again shortly rather than co-locate the replicas
            return deferred(PlacementDeferrals.Reason.AWAITING_REGISTRATION,
                    "waiting for a joining node's shard region to place "
                    + shardId + " apart from its other replicas");
        }
        firstAttempt.remove(shardId);
        for (PlacementDeferrals.Reason r : PlacementDeferrals.Reason.values()) {
            warned.remove(r.label() + ":" + key);
        }
        return Futures.successful(best.region());
    }

    /**
     * A failed allocation, which the coordinator asks again for later. It would log each at
     * ERROR; {@link DeferredPlacementLogFilter} drops those lines, since the reason is warned
     * about once and counted here by reason. The reason is the message, with no stack trace.
     */
    private Future<ActorRef> deferred(PlacementDeferrals.Reason why, String reason) {
        deferrals.record(why);
        return Futures.failed(new PlacementDeferred(reason));
    }

    /** Why a replica is not placed yet; the coordinator retries. */
    static final class PlacementDeferred extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        PlacementDeferred(String reason) {
            super(reason);
        }

        @Override
        public synchronized Throwable fillInStackTrace() {
            return this;
        }
    }

    /** Says once per version why its replica waits: every allowed node's budget is too full for it. */
    private void warnNoRoom(String shardId, ModelManifest m, List<Host> candidates) {
        if (!firstWarning(PlacementDeferrals.Reason.NO_MEMORY_BUDGET, versionKey(shardId))) {
            return;
        }
        StringBuilder nodes = new StringBuilder();
        for (Host h : candidates) {
            nodes.append(nodes.length() == 0 ? "" : ", ").append(h.address().hostPort()).append(' ')
                    .append(MemoryBudget.human(memory.allocated(onHost(h, catalog::manifest)))).append(" of ")
                    .append(MemoryBudget.human(h.budget().orElse(0)));
        }
        log.warn("no node has memory budget left for {}: it needs an estimated {} (artifact {} x memory-overhead {})"
                        + " and the allowed nodes have allocated [{}]; it waits until one has room (free memory"
                        + " by undeploying, add a node, or deploy the model in more stages)", shardId,
                MemoryBudget.human(memory.estimate(m)), MemoryBudget.human(m.sizeBytes()), memory.overhead(), nodes);
    }

    /** Whether this is the first warning of {@code reason} for version {@code key} since it was last placed. */
    private boolean firstWarning(PlacementDeferrals.Reason reason, String key) {
        if (warned.size() > MAX_REMEMBERED) {
            warned.clear(); // bounded: at worst a version is warned about once more
        }
        return warned.add(reason.label() + ":" + key);
    }

    /** How long allocation of {@code shardId} has been deferred. */
    private long waitingSince(String shardId) {
        if (firstAttempt.size() > MAX_REMEMBERED) {
            firstAttempt.clear(); // bounded: at worst a deferral restarts its grace period
        }
        return System.nanoTime() - firstAttempt.computeIfAbsent(shardId, k -> System.nanoTime());
    }

    private void rememberRegistered(Member m) {
        if (registeredOnce.size() > MAX_REMEMBERED) {
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
        Set<String> moves = moves(hosts(currentShardAllocations), rebalanceInProgress, catalog::manifest, memory);
        if (!moves.isEmpty()) {
            log.info("rebalancing replicas {}", moves);
        }
        return Futures.successful(moves);
    }

    /**
     * The replicas to move off their hosts: misplaced (region no longer allowed), crowded (a
     * second replica of a version on one node) or over-budget ones (on a node whose replicas
     * together exceed its memory budget: a version redeployed under replica ids that kept their
     * old node), when another eligible host in an allowed region would take them (one with no
     * replica of the version, for a crowded one) and has room for them; at most
     * {@link #MAX_MOVES}, and one per version at a time.
     */
    static Set<String> moves(List<Host> hosts, Set<String> rebalanceInProgress, Manifests manifests,
                             MemoryBudget memory) {
        Set<String> moves = new HashSet<>();
        for (Host h : hosts) {
            List<ModelManifest> on = onHost(h, manifests);
            boolean hostOverBudget = h.budget().isPresent() && memory.allocated(on) > h.budget().getAsLong();
            for (String shard : h.shards()) {
                if (moves.size() >= MAX_MOVES || rebalanceInProgress.contains(shard)) {
                    continue;
                }
                Optional<ModelManifest> m = manifestOf(shard, manifests);
                if (m.isEmpty()) {
                    continue;
                }
                String key = versionKey(shard);
                boolean misplaced = !allowed(m.get(), h);
                boolean crowded = sameVersion(h, key) > 1;
                // moving a replica whose artifact another replica here shares would free nothing
                boolean overBudget = hostOverBudget
                        && on.stream().filter(x -> x.sha256().equals(m.get().sha256())).count() == 1;
                boolean betterExists = hosts.stream().anyMatch(o -> o != h && o.eligible() && allowed(m.get(), o)
                        && (misplaced || overBudget || sameVersion(o, key) == 0)
                        && fits(o, m.get(), manifests, memory));
                if ((misplaced || crowded || overBudget) && betterExists
                        && !anyMoving(moves, rebalanceInProgress, key)) {
                    moves.add(shard);
                }
            }
        }
        return moves;
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
