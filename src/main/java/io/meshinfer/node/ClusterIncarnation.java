package io.meshinfer.node;

import com.typesafe.config.Config;
import io.meshinfer.registry.Attestations;
import io.meshinfer.registry.Catalog;
import io.meshinfer.registry.CatalogView;
import io.meshinfer.routing.MemberInfo;
import io.meshinfer.routing.MembershipView;
import io.meshinfer.routing.MembershipWatcher;
import io.meshinfer.routing.Router;
import io.meshinfer.routing.RouterSettings;
import io.meshinfer.rollout.RolloutManager;
import io.meshinfer.rollout.RolloutSettings;
import io.meshinfer.rollout.StatsReporter;
import io.meshinfer.rollout.VersionStats;
import io.meshinfer.shard.GracefulLeave;
import io.meshinfer.shard.LargeMessages;
import io.meshinfer.shard.MemoryBudget;
import io.meshinfer.shard.ModelReplica;
import io.meshinfer.shard.PlacementStrategy;
import io.meshinfer.shard.ReplicaEnvironment;
import io.meshinfer.shard.ReplicaLocationView;
import io.meshinfer.shard.ReplicaLocations;
import io.meshinfer.shard.ReplicaPool;
import io.meshinfer.shard.ReplicaReconciler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.Done;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.SelfRemoved;
import org.apache.pekko.cluster.typed.Subscribe;
import org.apache.pekko.remote.RARP;
import org.apache.pekko.remote.transport.ThrottlerTransportAdapter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One membership of this process in the cluster: an actor system joined through the
 * seeds, with the catalog replica, the replica entities (attached to the process's
 * {@link ReplicaPool}), the placement strategy, the reconciler, replica locations,
 * membership tracking and the router. When the cluster downs or removes this node the
 * incarnation reports it once (through {@code onEnded}) and the process starts a fresh one;
 * nothing here waits for the old actor system to finish terminating.
 */
final class ClusterIncarnation {
    private static final Logger log = LoggerFactory.getLogger(ClusterIncarnation.class);

    private final ActorSystem<Void> system;
    private final MembershipView members;
    private final ReplicaLocationView locations;
    private final Router router;
    private final ActorRef<Catalog.Command> catalog;
    private final ActorRef<RolloutManager.Command> rolloutManager;
    private final Duration adminTimeout;
    private final AtomicBoolean ended = new AtomicBoolean();
    /** A graceful leave started: its end is expected, so it neither warns nor asks for a rejoin. */
    private final AtomicBoolean leaving = new AtomicBoolean();
    private final AtomicBoolean catalogSynced;

    private ClusterIncarnation(ActorSystem<Void> system, MembershipView members, ReplicaLocationView locations,
                               Router router, ActorRef<Catalog.Command> catalog,
                               ActorRef<RolloutManager.Command> rolloutManager, Duration adminTimeout,
                               AtomicBoolean catalogSynced) {
        this.system = system;
        this.members = members;
        this.locations = locations;
        this.router = router;
        this.catalog = catalog;
        this.rolloutManager = rolloutManager;
        this.adminTimeout = adminTimeout;
        this.catalogSynced = catalogSynced;
    }

    /** Whether this incarnation has read the catalog from the cluster (it knows what is deployed). */
    boolean catalogSynced() {
        return catalogSynced.get();
    }

    /**
     * Creates the actor system (binding the cluster port) and joins.
     *
     * @param onEnded called once when this node is downed or removed, or its system stops
     * @throws RuntimeException if the system cannot start (e.g. the port is still taken)
     */
    static ClusterIncarnation start(Config config, NodeSettings settings, CatalogView catalogView, ReplicaPool pool,
                                    Runnable onEnded, java.util.function.Supplier<CompletionStage<Done>> beforeLeaving,
                                    io.meshinfer.shard.StageContinuation continuation,
                                    io.meshinfer.shard.PlacementDeferrals deferrals) {
        ClusterBootstrapMode.fromConfig(config); // a wrong setting fails before the cluster port is bound
        if (!config.getStringList("pekko.cluster.distributed-data.durable.keys").isEmpty()) {
            LmdbNative.load(); // before the durable store would, so that its copy does not stay in /tmp
        }
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "meshinfer", config);
        try {
            return wire(system, config, settings, catalogView, pool, onEnded, beforeLeaving, continuation, deferrals);
        } catch (RuntimeException e) {
            system.terminate();
            throw e;
        }
    }

    private static ClusterIncarnation wire(ActorSystem<Void> system, Config config, NodeSettings settings,
                                           CatalogView catalogView, ReplicaPool pool, Runnable onEnded,
                                           java.util.function.Supplier<CompletionStage<Done>> beforeLeaving,
                                           io.meshinfer.shard.StageContinuation continuation,
                                           io.meshinfer.shard.PlacementDeferrals deferrals) {
        Duration writeTimeout = config.getDuration("meshinfer.catalog.write-timeout");
        AtomicBoolean catalogSynced = new AtomicBoolean();
        ActorRef<Catalog.Command> catalog = system.systemActorOf(Catalog.create(catalogView, writeTimeout,
                catalogSynced), "catalog", Props.empty());
        MembershipView members = new MembershipView();
        system.systemActorOf(MembershipWatcher.create(members), "membership", Props.empty());
        ReplicaLocationView locationView = new ReplicaLocationView();
        ActorRef<ReplicaLocations.Command> locations = system.systemActorOf(
                ReplicaLocations.create(locationView, config.getDuration("meshinfer.placement.location-write-timeout")),
                "replica-locations", Props.empty());
        Cluster cluster = Cluster.get(system);
        String selfAddress = cluster.selfMember().address().toString();
        LargeMessages large = new LargeMessages(system);
        system.systemActorOf(LargeMessages.relay(), LargeMessages.NAME, Props.empty());
        ReplicaEnvironment env = new ReplicaEnvironment(pool, catalogView, locations, selfAddress,
                () -> peerUrls(members),
                config.getDuration("meshinfer.placement.retry-load-after"),
                config.getDuration("meshinfer.placement.manifest-wait"),
                config.getDuration("meshinfer.placement.stop-linger"), large, continuation);
        system.systemActorOf(Attestations.create(pool.attestor(),
                config.getDuration("meshinfer.attestation.write-timeout")), "attestations", Props.empty());
        ModelReplica.init(system, env, new PlacementStrategy(catalogView, MemoryBudget.fromConfig(config),
                deferrals));
        system.systemActorOf(ReplicaReconciler.create(catalogView, locations, locationView,
                config.getDuration("meshinfer.placement.reconcile-interval")), "reconciler", Props.empty());
        RolloutSettings rolloutSettings = RolloutSettings.fromConfig(config);
        VersionStats stats = new VersionStats(rolloutSettings.statsWindowSeconds());
        system.systemActorOf(StatsReporter.create(stats, settings.name()), "version-stats", Props.empty());
        system.scheduler().scheduleWithFixedDelay(Duration.ofSeconds(10), Duration.ofSeconds(10),
                () -> stats.retain(inRollout(catalogView)), system.executionContext());
        ActorRef<RolloutManager.Command> rolloutManager = RolloutManager.init(system, rolloutSettings, locationView,
                members, attestationCheck(pool), settings.name(), ModelReplica.REPLICA_HOST_ROLE);
        Router router = new Router(system, catalogView, locationView, members, pool,
                new Router.Self(selfAddress, settings.name(), settings.region(), settings.zone()),
                RouterSettings.fromConfig(config), catalogSynced::get, stats, rolloutSettings.mirrorMaxInFlight(), large);
        ClusterIncarnation inc = new ClusterIncarnation(system, members, locationView, router, catalog, rolloutManager,
                writeTimeout.plusSeconds(2), catalogSynced);
        org.apache.pekko.cluster.Cluster.get(Adapter.toClassic(system)).registerOnMemberUp(
                () -> catalog.tell(Catalog.Sync.INSTANCE));
        // a graceful leave (SIGTERM or the CLI) first stops taking HTTP requests and lets those in
        // flight finish; being downed does not, since island mode keeps serving
        CoordinatedShutdown.get(Adapter.toClassic(system)).addTask(CoordinatedShutdown.PhaseServiceUnbind(),
                "meshinfer-http-drain", () -> CoordinatedShutdown.get(Adapter.toClassic(system)).getShutdownReason()
                        .filter(GracefulLeave::isLeaving).map(r -> beforeLeaving.get())
                        .orElse(CompletableFuture.completedFuture(Done.getInstance())));
        system.systemActorOf(endWatcher(inc, onEnded), "end-watcher", Props.empty());
        system.getWhenTerminated().thenRun(() -> inc.end(onEnded, "its actor system terminated"));
        ClusterBootstrapMode.fromConfig(config).join(system, config);
        return inc;
    }

    /** Watches for this node being downed or removed. */
    private static Behavior<Object> endWatcher(ClusterIncarnation inc, Runnable onEnded) {
        return Behaviors.setup(ctx -> {
            Cluster cluster = Cluster.get(ctx.getSystem());
            cluster.subscriptions().tell(Subscribe.create(ctx.getSelf().narrow(), SelfRemoved.class));
            cluster.subscriptions().tell(Subscribe.create(ctx.getSelf().narrow(), ClusterEvent.MemberDowned.class));
            return Behaviors.receiveMessage(msg -> {
                if (msg instanceof SelfRemoved) {
                    inc.end(onEnded, "it was removed from the cluster");
                } else if (msg instanceof ClusterEvent.MemberDowned d
                        && d.member().address().equals(cluster.selfMember().address())) {
                    inc.end(onEnded, "the cluster downed it");
                }
                return Behaviors.same();
            });
        });
    }

    private void end(Runnable onEnded, String why) {
        if (ended.compareAndSet(false, true) && !leaving.get()) {
            log.warn("this node's cluster membership ended: {}", why);
            onEnded.run();
        }
    }

    /**
     * A version is attested when every node holding a ready replica of it published a passing
     * check of its golden vectors for exactly its bytes (a version without golden vectors
     * is not checked). Rollouts wait for this before they move traffic.
     */
    private static RolloutManager.AttestationCheck attestationCheck(ReplicaPool pool) {
        return (manifest, nodes) -> {
            if (manifest.golden() == null) {
                return java.util.Optional.empty();
            }
            java.util.Map<String, io.meshinfer.registry.Attestation> byNode = new java.util.HashMap<>();
            for (io.meshinfer.registry.Attestation a : pool.attestor().attestations(manifest.model(),
                    manifest.version(), manifest.sha256())) {
                byNode.put(a.node(), a);
            }
            List<String> missing = new ArrayList<>();
            for (String node : nodes) {
                io.meshinfer.registry.Attestation a = byNode.get(node);
                if (a == null || !a.passed()) {
                    missing.add(node + (a == null ? " (no result yet)" : " (failed: " + a.detail() + ")"));
                }
            }
            return missing.isEmpty() ? java.util.Optional.empty()
                    : java.util.Optional.of("not attested on " + String.join(", ", missing));
        };
    }

    /** The versions ("model@version") in an active rollout, whose statistics nodes keep. */
    private static java.util.Set<String> inRollout(CatalogView catalog) {
        java.util.Set<String> keys = new java.util.HashSet<>();
        catalog.models().values().forEach(e -> e.activeRollout().ifPresent(r -> {
            keys.add(r.model() + "@" + r.from());
            keys.add(r.model() + "@" + r.to());
        }));
        return keys;
    }

    static List<String> peerUrls(MembershipView members) {
        List<String> urls = new ArrayList<>();
        for (MemberInfo m : members.httpPeers()) {
            urls.add(peerUrl(m));
        }
        return urls;
    }

    /**
     * The base URL this node fetches a member's artifacts from: its mutual-TLS artifact port
     * (role {@code artifacts:}) when it has one, else its gateway, from its {@code http:} role:
     * {@code host:port} means plain HTTP; a node serving HTTPS publishes its whole
     * {@code https://} URL.
     */
    static String peerUrl(MemberInfo member) {
        if (!member.artifacts().isEmpty()) {
            return member.artifacts();
        }
        String http = member.http();
        return http.contains("://") ? http : "http://" + http;
    }

    ActorSystem<Void> system() {
        return system;
    }

    MembershipView members() {
        return members;
    }

    ReplicaLocationView locations() {
        return locations;
    }

    Router router() {
        return router;
    }

    boolean ended() {
        return ended.get();
    }

    ActorRef<Catalog.Command> catalog() {
        return catalog;
    }

    ActorRef<RolloutManager.Command> rolloutManager() {
        return rolloutManager;
    }

    Duration adminTimeout() {
        return adminTimeout;
    }

    /**
     * Leaves the cluster gracefully: drains HTTP, hands off replicas, then terminates the
     * system. The membership stays whole until the leave reaches the cluster, so requests
     * taken while HTTP drains are still routed to replicas on other nodes.
     */
    CompletionStage<Done> leave() {
        leaving.set(true);
        return scala.jdk.javaapi.FutureConverters.asJava(
                CoordinatedShutdown.get(Adapter.toClassic(system)).run(GracefulLeave.INSTANCE));
    }

    /** Blackholes (or heals) traffic with peers given as {@code host:port}; test mode only. */
    CompletionStage<Done> throttle(List<String> peers, boolean cut) {
        if (!system.settings().config().getBoolean("pekko.remote.artery.advanced.test-mode")) {
            return CompletableFuture.failedFuture(new IllegalStateException("Artery test mode is off"));
        }
        List<String> targets = new ArrayList<>(peers);
        if (targets.isEmpty()) {
            members.members().keySet().forEach(a -> targets.add(a.substring(a.indexOf('@') + 1)));
        }
        var transport = ((RARP) RARP.get(Adapter.toClassic(system))).provider().transport();
        List<CompletableFuture<Object>> all = new ArrayList<>();
        for (String hostPort : targets) {
            int colon = hostPort.lastIndexOf(':');
            Address address = new Address("pekko", "meshinfer", hostPort.substring(0, colon),
                    Integer.parseInt(hostPort.substring(colon + 1)));
            if (address.equals(Cluster.get(system).selfMember().address())) {
                continue;
            }
            var command = new ThrottlerTransportAdapter.SetThrottle(address,
                    ThrottlerTransportAdapter.bothDirection(),
                    cut ? ThrottlerTransportAdapter.blackholeThrottleMode()
                            : ThrottlerTransportAdapter.unthrottledThrottleMode());
            all.add(scala.jdk.javaapi.FutureConverters.asJava(transport.managementCommand(command))
                    .toCompletableFuture());
        }
        log.warn("test mode: {} traffic with {}", cut ? "blackholed" : "restored", targets);
        return CompletableFuture.allOf(all.toArray(new CompletableFuture[0])).thenApply(v -> Done.getInstance());
    }
}
