package io.meshinfer.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.meshinfer.api.InferenceException;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.api.Stages;
import io.meshinfer.batching.BatchPolicy;
import io.meshinfer.client.InferenceClient;
import io.meshinfer.gateway.ClusterSnapshot;
import io.meshinfer.gateway.HttpGateway;
import io.meshinfer.gateway.NodeBackend;
import io.meshinfer.registry.ArtifactFetcher;
import io.meshinfer.registry.ArtifactScrubber;
import io.meshinfer.registry.ArtifactSettings;
import io.meshinfer.registry.ArtifactGc;
import io.meshinfer.registry.ArtifactStore;
import io.meshinfer.registry.Attestation;
import io.meshinfer.registry.AttestationSettings;
import io.meshinfer.registry.Attestor;
import io.meshinfer.registry.Catalog;
import io.meshinfer.registry.CatalogView;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.routing.EntryPoint;
import io.meshinfer.routing.InferenceService;
import io.meshinfer.routing.IslandRouter;
import io.meshinfer.routing.MemberInfo;
import io.meshinfer.routing.MembershipView;
import io.meshinfer.routing.RouterSettings;
import io.meshinfer.rollout.RolloutManager;
import io.meshinfer.rollout.RolloutSettings;
import io.meshinfer.rollout.RolloutSpec;
import io.meshinfer.runtime.ModelRuntime;
import io.meshinfer.security.AuditLog;
import io.meshinfer.security.AuditSettings;
import io.meshinfer.security.Authenticator;
import io.meshinfer.security.SecuritySettings;
import io.meshinfer.security.tls.NodeTls;
import io.meshinfer.shard.PooledReplica;
import io.meshinfer.shard.ReplicaLocation;
import io.meshinfer.shard.ReplicaPool;
import io.meshinfer.shard.ServedCounters;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.stream.Materializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A meshinfer node process. It owns what outlives any one cluster membership: the HTTP
 * gateway, the replica pool (loaded sessions and their batchers), the last catalog it
 * saw and its served-request counters, all on a local actor system. On top of that it
 * runs one {@link ClusterIncarnation} at a time; when the cluster downs or removes this
 * node, it starts a fresh one and rejoins through the seeds with back-off (unless
 * {@code meshinfer.node.on-downed = exit}). While it is cut off (not an Up member, or
 * unable to reach more than half the cluster) it answers from its own replicas in island
 * mode.
 *
 * <p>{@link #shutdown} is the graceful leave: stop taking HTTP connections, finish the
 * requests in flight, hand off replicas and leave the cluster, then release everything.
 */
public final class MeshNode implements NodeBackend, InferenceService {
    private static final Logger log = LoggerFactory.getLogger(MeshNode.class);

    private final Config config;
    private volatile Config clusterConfig;
    private final NodeSettings settings;
    private final io.meshinfer.shard.MemoryBudget memory;
    private final NodeTls tls;
    private final NodeResources resources;
    private final ActorSystem<Void> local;
    private final Executor blocking;
    private final CatalogView catalog = new CatalogView();
    private final ServedCounters served = new ServedCounters();
    private final io.meshinfer.shard.PlacementDeferrals deferrals = new io.meshinfer.shard.PlacementDeferrals();
    private final ReplicaPool pool;
    private final IslandRouter island;
    private final io.meshinfer.observability.NodeMetrics metrics;
    private final io.meshinfer.observability.DriftRegistry drift;
    private final RouterSettings routerSettings;
    private final RolloutSettings rolloutSettings;
    private final boolean exitWhenDowned;
    private final Duration drainDelay;
    private final Duration backoffMin;
    private final Duration backoffMax;
    private final Duration orphanGrace;
    private final AtomicReference<ClusterIncarnation> current = new AtomicReference<>();
    private final ArtifactSettings artifacts;
    private final ArtifactScrubber scrubber;
    private final CompletableFuture<Integer> exited = new CompletableFuture<>();
    private volatile boolean shuttingDown;
    private volatile boolean draining;
    private volatile boolean leaveStarted;
    private final java.util.Set<String> blackholed = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile ServerBinding binding;
    /** The mutual-TLS artifact port; null without TLS between nodes (the gateway serves artifacts then). */
    private volatile ServerBinding artifactBinding;
    private final Optional<Authenticator> authenticator;
    private final AuditLog audit;
    private final EntryPoint httpEntry;
    private final EntryPoint javaEntry;
    private final io.meshinfer.pipeline.StageChain chain;
    private final io.meshinfer.ensemble.EnsembleService ensembles;

    private MeshNode(Config config, NodeResources resources) {
        String batcherDispatcher = batcherDispatcher(config);
        this.settings = NodeSettings.fromConfig(config);
        this.memory = io.meshinfer.shard.MemoryBudget.fromConfig(config);
        this.authenticator = authenticator(SecuritySettings.fromConfig(config));
        this.audit = openAudit(AuditSettings.fromConfig(config), settings);
        this.httpEntry = new EntryPoint(this, audit, "http");
        this.javaEntry = new EntryPoint(this, audit, "java");
        this.tls = NodeTls.fromConfig(config);
        this.config = config;
        this.resources = resources;
        this.local = ActorSystem.create(Behaviors.empty(), "meshinfer-local", ConfigFactory.parseMap(Map.of(
                "pekko.actor.provider", "local",
                "pekko.coordinated-shutdown.run-by-jvm-shutdown-hook", "off")).withFallback(config));
        this.blocking = local.dispatchers().lookup(DispatcherSelector.fromConfig("meshinfer.runtime-dispatcher"));
        this.routerSettings = RouterSettings.fromConfig(config);
        this.rolloutSettings = RolloutSettings.fromConfig(config);
        this.artifacts = ArtifactSettings.fromConfig(config);
        ArtifactFetcher fetcher = new ArtifactFetcher(resources.store(), local, artifacts,
                new ArtifactPeers(catalog, current::get), tls.artifactFetchContext());
        this.scrubber = new ArtifactScrubber(resources.store(), fetcher, catalog, this::peerUrls, blocking);
        Attestor attestor = new Attestor(AttestationSettings.fromConfig(config), resources.runtime(), settings.name(),
                settings.region(), this::clusterAddress);
        this.drift = new io.meshinfer.observability.DriftRegistry(
                io.meshinfer.observability.DriftSettings.fromConfig(config));
        this.pool = new ReplicaPool(resources.runtime(), fetcher, Materializer.matFromSystem(local), blocking,
                BatchPolicy.fromConfig(config), new PooledReplica.Place(settings.name(), settings.region(),
                settings.zone(), routerSettings.maxRequestBytes(), served, drift, audit), attestor,
                batcherDispatcher);
        this.metrics = new io.meshinfer.observability.NodeMetrics(settings.name(), catalog, pool, resources.runtime(),
                resources.store(), drift, this::clusterSnapshot, () -> {
                    ClusterIncarnation inc = current.get();
                    return inc == null ? 0 : inc.members().membersDowned();
                }, deferrals);
        this.island = new IslandRouter(catalog, pool, routerSettings.maxRequestBytes());
        this.chain = new io.meshinfer.pipeline.StageChain(catalog, this::route, routerSettings,
                io.meshinfer.pipeline.PipelineSettings.fromConfig(config), metrics::pipelineActivations,
                metrics::pipelineNetwork, this::trackRollout);
        this.ensembles = new io.meshinfer.ensemble.EnsembleService(catalog, chain, routerSettings, settings.name(),
                settings.region(), metrics::ensembleMember, this::trackRollout);
        this.exitWhenDowned = config.getString("meshinfer.node.on-downed").equals("exit");
        this.drainDelay = config.getDuration("meshinfer.node.drain-delay");
        if (drainDelay.isNegative() || drainDelay.compareTo(Duration.ofSeconds(15)) > 0) {
            throw new IllegalArgumentException("meshinfer.node.drain-delay must be between 0s and 15s, not "
                    + drainDelay);
        }
        this.backoffMin = config.getDuration("meshinfer.node.rejoin-backoff-min");
        this.backoffMax = config.getDuration("meshinfer.node.rejoin-backoff-max");
        this.orphanGrace = config.getDuration("meshinfer.node.orphan-grace");
    }

    /**
     * Starts a node: the local system, the first cluster incarnation and the HTTP port.
     * Returns once HTTP is bound (the node may still be joining: see {@link #awaitUp}).
     *
     * @param config the full configuration ({@link MeshConfig#load} with overrides, resolved)
     * @throws IllegalStateException if the cluster port or the HTTP port cannot be bound
     */
    public static MeshNode start(Config config, NodeResources resources) {
        MeshNode node = new MeshNode(config, resources);
        try {
            HttpGateway gateway = new HttpGateway(node.local, node, config.getBytes("meshinfer.http.max-request-body"),
                    config.getBytes("meshinfer.http.max-model-body"));
            node.binding = gateway.bind(node.settings.httpHost(), node.settings.httpPort(), node.tls.gatewayContext())
                    .toCompletableFuture()
                    .get(30, TimeUnit.SECONDS);
            if (node.tls.artifactServerContext().isPresent()) {
                node.artifactBinding = gateway.bindArtifacts(node.settings.httpHost(), node.settings.artifactPort(),
                                node.tls.artifactServerContext().get())
                        .toCompletableFuture()
                        .get(30, TimeUnit.SECONDS);
            }
            node.clusterConfig = ConfigFactory.parseMap(Map.of("pekko.cluster.roles",
                    roles(config, node.settings, node.httpRole(), node.artifactUrl()))).withFallback(config);
            node.current.set(node.newIncarnation(node.clusterConfig));
        } catch (Exception e) {
            ClusterIncarnation inc = node.current.get();
            if (inc != null) {
                inc.system().terminate();
            }
            if (node.binding != null) {
                node.binding.unbind();
            }
            if (node.artifactBinding != null) {
                node.artifactBinding.unbind();
            }
            node.local.terminate();
            node.audit.close();
            throw new IllegalStateException("node " + node.settings.name() + " cannot start: " + e.getMessage(), e);
        }
        node.local.scheduler().scheduleAtFixedRate(node.orphanGrace, node.orphanGrace,
                node::releaseStaleOrphans, node.local.executionContext());
        node.artifacts.scrubInterval().ifPresent(every -> node.local.scheduler().scheduleWithFixedDelay(every, every,
                node::scrubArtifacts, node.local.executionContext()));
        node.scheduleArtifactGc(config);
        log.info("node {} (region {}, zone {}) serving HTTP on {}", node.settings.name(), node.settings.region(),
                node.settings.zone(), node.binding.localAddress());
        node.settings.memoryBudget().ifPresent(b -> log.info("node {}: memory budget for replicas {}"
                + " (estimates: artifact size x meshinfer.placement.memory-overhead {})", node.settings.name(),
                io.meshinfer.shard.MemoryBudget.human(b), node.memory.overhead()));
        node.artifactUrl().ifPresent(url -> log.info("node {}: model artifacts are served only to cluster members,"
                + " over mutual TLS on {} (the HTTP port refuses them)", node.settings.name(), url));
        node.tls.logStatus(node.settings.name(), org.apache.pekko.cluster.typed.Cluster.get(node.clusterSystem())
                .selfMember().address().getPort().orElse(0));
        return node;
    }

    private static List<String> roles(Config config, NodeSettings settings, String httpRole,
                                      Optional<String> artifactUrl) {
        List<String> roles = new ArrayList<>(config.getStringList("pekko.cluster.roles"));
        roles.add("region:" + settings.region());
        roles.add("zone:" + settings.zone());
        roles.add("node:" + settings.name());
        roles.add("http:" + httpRole);
        artifactUrl.ifPresent(url -> roles.add("artifacts:" + url));
        if (config.getBoolean("meshinfer.node.host-replicas")) {
            roles.add(io.meshinfer.shard.ModelReplica.REPLICA_HOST_ROLE);
            settings.memoryBudget().ifPresent(b -> roles.add(io.meshinfer.shard.MemoryBudget.role(b)));
        }
        return roles;
    }

    /** Feeds a pipeline's or ensemble's request to the rollout statistics of the current incarnation's router. */
    private void trackRollout(InferenceRequest request, io.meshinfer.registry.ModelManifest manifest, long startNanos,
                              CompletionStage<InferenceResponse> result, io.meshinfer.routing.InferenceService via) {
        ClusterIncarnation inc = current.get();
        if (inc != null) {
            inc.router().trackRollout(request, manifest, startNanos, result, via);
        }
    }

    private ClusterIncarnation newIncarnation(Config config) {
        ClusterIncarnation[] self = new ClusterIncarnation[1];
        ClusterIncarnation inc = ClusterIncarnation.start(config, settings, catalog, pool,
                () -> onIncarnationEnded(self[0]), this::drainHttp, chain::continueAfter, deferrals);
        self[0] = inc;
        return inc;
    }

    private void onIncarnationEnded(ClusterIncarnation inc) {
        if (shuttingDown || leaveStarted || inc == null || current.get() != inc) {
            return;
        }
        if (exitWhenDowned) {
            log.warn("node {} left the cluster and meshinfer.node.on-downed = exit: exiting", settings.name());
            shutdown().whenComplete((d, e) -> exited.complete(3));
            return;
        }
        inc.system().terminate();
        // the new membership binds the same port: wait for the old system, but never for long,
        // since its termination can hang on a half-closed connection
        inc.system().getWhenTerminated().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS)
                .whenComplete((t, e) -> scheduleRejoin(inc, 1));
    }

    private void scheduleRejoin(ClusterIncarnation ended, int attempt) {
        long delay = Math.min(backoffMax.toMillis(), backoffMin.toMillis() * (1L << Math.min(attempt - 1, 10)));
        log.info("node {} rejoins its cluster in {} ms (attempt {})", settings.name(), delay, attempt);
        local.scheduler().scheduleOnce(Duration.ofMillis(delay), () -> {
            if (shuttingDown || leaveStarted || current.get() != ended) {
                return;
            }
            try {
                ClusterIncarnation next = newIncarnation(rejoinConfig(ended));
                if (!current.compareAndSet(ended, next)) {
                    next.system().terminate();
                }
            } catch (RuntimeException e) {
                log.warn("node {} could not start a new cluster incarnation: {}", settings.name(), e.getMessage());
                scheduleRejoin(ended, attempt + 1);
            }
        }, local.executionContext());
    }

    /**
     * The configuration of a new membership after {@code ended}: its seeds are the members
     * it last knew (itself excluded) and the configured seeds, so a node that formed the
     * cluster rejoins it instead of founding a second one.
     */
    private Config rejoinConfig(ClusterIncarnation ended) {
        java.util.LinkedHashSet<String> seeds = new java.util.LinkedHashSet<>();
        String self = ended.members().self();
        for (MemberInfo m : ended.members().members().values()) {
            if (!m.address().equals(self)) {
                seeds.add(m.address());
            }
        }
        for (String s : clusterConfig.getStringList("pekko.cluster.seed-nodes")) {
            if (!s.equals(self)) {
                seeds.add(s);
            }
        }
        Map<String, Object> overrides = new java.util.HashMap<>();
        if (ClusterBootstrapMode.fromConfig(clusterConfig) == ClusterBootstrapMode.SEEDS) {
            overrides.put("pekko.cluster.seed-nodes", new ArrayList<>(seeds)); // Kubernetes: discovery finds it again
        }
        if (!ended.system().whenTerminated().isCompleted()) {
            // the old system still holds the durable catalog store open (its termination hangs):
            // run this membership without it; the catalog comes back from the cluster anyway
            log.warn("node {} rejoins without its durable catalog store: the old actor system still holds it",
                    settings.name());
            overrides.put("pekko.cluster.distributed-data.durable.keys", List.of());
        }
        return ConfigFactory.parseMap(overrides).withFallback(clusterConfig);
    }

    /**
     * First step of a graceful leave: report not ready, keep serving for the drain delay (so
     * load balancers polling readiness stop sending), stop taking HTTP connections, and let
     * the requests already taken finish (they are still served through the cluster: a request
     * that reached the gateway as the drain began is answered, not refused).
     */
    private CompletionStage<Done> drainHttp() {
        draining = true;
        ServerBinding b = binding;
        if (b == null) {
            shuttingDown = true;
            return CompletableFuture.completedFuture(Done.getInstance());
        }
        CompletableFuture<Void> delayed = CompletableFuture.completedFuture(null);
        if (!drainDelay.isZero()) {
            log.info("node {} reports not ready and keeps serving for {} (meshinfer.node.drain-delay) before it"
                    + " closes its HTTP port", settings.name(), drainDelay);
            delayed = CompletableFuture.runAsync(() -> { },
                    CompletableFuture.delayedExecutor(drainDelay.toMillis(), TimeUnit.MILLISECONDS));
        }
        return delayed.thenCompose(d -> b.unbind()).thenCompose(u -> b.terminate(Duration.ofSeconds(10)))
                .handle((t, e) -> {
                    shuttingDown = true;
                    return Done.getInstance();
                });
    }


    /** One scrub pass over the artifact store (the scrubber logs what it found and joins a pass still running). */
    private void scrubArtifacts() {
        scrubber.scrub().whenComplete((result, error) -> {
            if (error != null) {
                log.warn("artifact scrub failed: {}", error.toString());
            }
        });
    }

    /** HTTP base URLs of the other members, reachable ones first (where artifacts come from). */
    private List<String> peerUrls() {
        ClusterIncarnation inc = current.get();
        return inc == null ? List.of() : ClusterIncarnation.peerUrls(inc.members());
    }

    /** Sweeps unreferenced artifacts every {@code meshinfer.artifacts.gc-interval}, on the blocking-IO dispatcher. */
    private void scheduleArtifactGc(Config config) {
        Duration interval = config.getDuration("meshinfer.artifacts.gc-interval");
        ArtifactGc gc = new ArtifactGc(resources.store(), catalog, this::heldArtifacts,
                () -> ready() && !islandMode(), config.getDuration("meshinfer.artifacts.gc-grace"),
                java.time.Clock.systemUTC());
        local.scheduler().scheduleWithFixedDelay(interval, interval, gc::sweep,
                local.dispatchers().lookup(DispatcherSelector.blocking()));
    }

    /** Artifacts a loaded session or a pooled replica (attached or orphaned) holds. */
    private java.util.Set<String> heldArtifacts() {
        java.util.Set<String> held = new java.util.HashSet<>(resources.runtime().loadedSessions().keySet());
        pool.all().forEach(r -> held.add(r.manifest().sha256()));
        return held;
    }

    /** This node's address in its current cluster membership ("" between memberships). */
    private String clusterAddress() {
        ClusterIncarnation inc = current.get();
        return inc == null ? "" : org.apache.pekko.cluster.typed.Cluster.get(inc.system()).selfMember().address()
                .toString();
    }

    /** Orphaned replicas not re-attached within the grace period are released (the cluster moved them). */
    private void releaseStaleOrphans() {
        java.util.Set<String> hosted = new java.util.HashSet<>();
        pool.all().forEach(r -> hosted.add(r.id().model() + "@" + r.id().version()));
        drift.retain(hosted);
        if (islandMode()) {
            return;
        }
        long grace = orphanGrace.toNanos();
        pool.releaseIf(r -> r.status() == PooledReplica.Status.ORPHANED
                && (r.orphanedForNanos() > grace || catalog.manifest(r.id().model(), r.id().version()).isEmpty()));
    }

    /**
     * {@code meshinfer.batching.stream-dispatcher}, or null for the materializer's default;
     * checked before anything starts, so a name that is not configured stops the node at
     * start instead of failing every replica's load.
     */
    static String batcherDispatcher(Config config) {
        String name = config.getString("meshinfer.batching.stream-dispatcher");
        if (name.isEmpty()) {
            return null;
        }
        if (!config.hasPath(name) || config.getValue(name).valueType() != com.typesafe.config.ConfigValueType.OBJECT) {
            throw new IllegalArgumentException("meshinfer.batching.stream-dispatcher names '" + name
                    + "', which is not a dispatcher in the configuration (e.g. meshinfer.runtime-dispatcher;"
                    + " empty for Pekko's default)");
        }
        return name;
    }

    // ---- serving ----

    /** Whether this node is cut off from its cluster and serves from its own replicas only. */
    public boolean islandMode() {
        ClusterIncarnation inc = current.get();
        return inc == null || inc.ended() || inc.members().cutOff();
    }

    @Override
    public CompletionStage<InferenceResponse> infer(InferenceRequest request) {
        long started = metrics.started();
        CompletionStage<InferenceResponse> answer = ensembles.infer(request);
        // the answer reaches the caller only once it is counted, so a scrape (or the dashboard)
        // read after an answer always includes it; the caller sees the very same result or error
        CompletableFuture<InferenceResponse> counted = new CompletableFuture<>();
        Stages.onDone(answer, (r, e) -> {
            try {
                metrics.finished(request.model(), r != null ? r.version() : request.version(), e, started);
            } finally {
                if (e != null) {
                    counted.completeExceptionally(e);
                } else {
                    counted.complete(r);
                }
            }
        });
        return counted;
    }

    /** How often this node's shard coordinator deferred placing a replica, by reason. */
    public io.meshinfer.shard.PlacementDeferrals placementDeferrals() {
        return deferrals;
    }

    @Override
    public io.meshinfer.observability.NodeMetrics metrics() {
        return metrics;
    }

    private CompletionStage<InferenceResponse> route(InferenceRequest request) {
        ClusterIncarnation inc = current.get();
        if (shuttingDown) {
            return CompletableFuture.failedFuture(new InferenceException.Unavailable("node " + settings.name()
                    + " is shutting down"));
        }
        if (inc == null || inc.ended() || inc.members().cutOff()) {
            return island.infer(request);
        }
        return inc.router().infer(request);
    }

    /** What the HTTP gateway sends requests to: the token's limits applied, then audited. */
    @Override
    public InferenceService inference() {
        return httpEntry;
    }

    /** The in-process Java client (trusted: requests without a principal pass; every call is audited). */
    public InferenceClient client() {
        return InferenceClient.of(javaEntry, local);
    }

    @Override
    public Optional<Authenticator> authenticator() {
        return authenticator;
    }

    @Override
    public AuditLog audit() {
        return audit;
    }

    @Override
    public String nodeRegion() {
        return settings.region();
    }

    private static Optional<Authenticator> authenticator(SecuritySettings s) {
        if (s.authPublicKey().isEmpty()) {
            return Optional.empty();
        }
        try {
            Authenticator a = Authenticator.fromFile(s.authPublicKey().get(), s.clockSkew());
            log.info("authentication on: bearer tokens verified with {}", s.authPublicKey().get());
            return Optional.of(a);
        } catch (java.io.IOException | RuntimeException e) {
            throw new IllegalStateException("cannot read the token verification key "
                    + s.authPublicKey().get() + ": " + e.getMessage(), e);
        }
    }

    private static AuditLog openAudit(AuditSettings s, NodeSettings node) {
        try {
            return AuditLog.fromSettings(s, node.name(), node.region());
        } catch (java.io.IOException | RuntimeException e) {
            throw new IllegalStateException("cannot open the audit log in " + s.dir().orElse(null) + ": "
                    + e.getMessage(), e);
        }
    }

    // ---- NodeBackend ----

    @Override
    public RouterSettings routing() {
        return routerSettings;
    }

    @Override
    public CatalogView catalog() {
        return catalog;
    }

    @Override
    public ArtifactStore store() {
        return resources.store();
    }

    @Override
    public boolean artifactsOnGateway() {
        return tls.artifactServerContext().isEmpty();
    }

    @Override
    public ModelRuntime runtime() {
        return resources.runtime();
    }

    @Override
    public Executor blocking() {
        return blocking;
    }

    @Override
    public String nodeName() {
        return settings.name();
    }

    @Override
    public CompletionStage<Done> deploy(ModelManifest manifest) {
        return catalogWrite(replyTo -> new RolloutManager.Deploy(manifest, replyTo));
    }

    @Override
    public CompletionStage<Done> undeploy(String model, String version) {
        return catalogWrite(replyTo -> new RolloutManager.Undeploy(model, version, replyTo));
    }

    @Override
    public CompletionStage<RolloutManager.Reply> startRollout(String model, RolloutSpec spec, String by) {
        return askManager(replyTo -> new RolloutManager.Start(model, spec, by, replyTo));
    }

    @Override
    public CompletionStage<RolloutManager.Reply> controlRollout(String model, RolloutManager.Action action,
                                                               String by) {
        return askManager(replyTo -> new RolloutManager.Control(model, action, by, replyTo));
    }

    @Override
    public RolloutSettings rolloutSettings() {
        return rolloutSettings;
    }

    /** Asks the rollout manager singleton (the catalog's only writer), then refreshes this node's view. */
    private CompletionStage<RolloutManager.Reply> askManager(
            org.apache.pekko.japi.function.Function<ActorRef<RolloutManager.Reply>, RolloutManager.Command> message) {
        ClusterIncarnation inc = current.get();
        if (inc == null || islandMode()) {
            return CompletableFuture.completedFuture(new RolloutManager.Reply(RolloutManager.Outcome.UNAVAILABLE,
                    "node " + settings.name() + " is cut off from its cluster; send catalog and rollout changes"
                            + " through a node of the majority", null));
        }
        return Stages.inline(AskPattern.ask(inc.rolloutManager(), message, inc.adminTimeout(),
                        inc.system().scheduler()))
                .exceptionally(e -> new RolloutManager.Reply(RolloutManager.Outcome.UNAVAILABLE,
                        "the rollout manager did not answer within " + inc.adminTimeout().toSeconds() + " s", null))
                .thenCompose(reply -> !reply.ok() ? CompletableFuture.completedFuture(reply)
                        : Stages.inline(AskPattern.<Catalog.Command, StatusReply<Done>>ask(inc.catalog(),
                                        Catalog.Refresh::new, inc.adminTimeout(), inc.system().scheduler()))
                                .handle((refreshed, e) -> reply));
    }

    private CompletionStage<Done> catalogWrite(
            org.apache.pekko.japi.function.Function<ActorRef<RolloutManager.Reply>, RolloutManager.Command> message) {
        return askManager(message).thenApply(reply -> {
            switch (reply.outcome()) {
                case OK:
                    return Done.getInstance();
                case NOT_FOUND:
                    throw new InferenceException.ModelNotFound(reply.message());
                case INVALID:
                    throw new InferenceException.InvalidInput(reply.message());
                case CONFLICT:
                    throw new io.meshinfer.registry.CatalogConflict(reply.message());
                default:
                    throw new InferenceException.Unavailable(reply.message());
            }
        });
    }

    @Override
    public boolean ready() {
        ClusterIncarnation inc = current.get();
        return !draining && inc != null && !inc.ended() && inc.members().selfStatus().equals("Up")
                && inc.catalogSynced();
    }

    @Override
    public boolean versionReady(String model, String version) {
        Optional<io.meshinfer.registry.ModelManifest> m = catalog.manifest(model, version);
        if (m.isPresent() && m.get().isPipeline()) {
            return m.get().stageModels().stream().allMatch(stage -> versionReady(stage, version));
        }
        if (m.isPresent() && m.get().isEnsemble()) {
            // ready when enough members are: all of them under missing=fail, min_members under partial
            long ready = m.get().ensemble().members().stream().filter(member -> {
                String v = member.version() != null ? member.version()
                        : catalog.model(member.model()).flatMap(io.meshinfer.registry.ModelEntry::servingVersion)
                        .orElse(null);
                return v != null && catalog.manifest(member.model(), v).filter(x -> !x.isEnsemble()).isPresent()
                        && versionReady(member.model(), v);
            }).count();
            return ready >= m.get().ensemble().required();
        }
        ClusterIncarnation inc = current.get();
        if (inc == null || islandMode()) {
            return pool.servingVersion(model, version).stream().anyMatch(r -> true);
        }
        MembershipView members = inc.members();
        for (ReplicaLocation l : inc.locations().all().values()) {
            if (l.model().equals(model) && l.version().equals(version) && l.ready()
                    && (l.address().equals(members.self()) || members.serving(l.address()))) {
                return true;
            }
        }
        return false;
    }

    @Override
    public ClusterSnapshot clusterSnapshot() {
        ClusterIncarnation inc = current.get();
        List<MemberInfo> members = new ArrayList<>();
        List<ClusterSnapshot.Replica> replicas = new ArrayList<>();
        String self = "";
        String leader = null;
        if (inc != null) {
            MembershipView view = inc.members();
            self = view.self();
            members.addAll(view.members().values());
            members.sort(Comparator.comparing(MemberInfo::address));
            var state = org.apache.pekko.cluster.typed.Cluster.get(inc.system()).state();
            leader = state.getLeader() == null ? null : state.getLeader().toString();
            for (ReplicaLocation l : inc.locations().all().values()) {
                boolean live = l.address().equals(self) || view.serving(l.address());
                replicas.add(new ClusterSnapshot.Replica(l.model(), l.version(), l.replica(), l.node(), l.address(),
                        l.region(), l.ready(), live));
            }
            replicas.sort(Comparator.comparing(r -> r.model() + "@" + r.version() + "#" + r.replica()));
        }
        List<ClusterSnapshot.LocalReplica> localReplicas = new ArrayList<>();
        for (PooledReplica r : pool.all()) {
            var s = r.batcher().stats();
            localReplicas.add(new ClusterSnapshot.LocalReplica(r.entityId(),
                    r.status().name().toLowerCase(java.util.Locale.ROOT), s.succeeded() + s.failed(), s.runs(),
                    Math.round(s.meanBatchRequests() * 100) / 100.0, r.batcher().outstanding()));
        }
        return new ClusterSnapshot(self, settings.name(), settings.region(), settings.zone(), islandMode(), leader,
                members, replicas, localReplicas, new ArrayList<>(catalog.models().values()), served.lines(),
                pool.attestor().all(), drift.statuses(), memory);
    }

    @Override
    public Attestor attestor() {
        return pool.attestor();
    }

    @Override
    public List<Attestation> attestations(String model, String version) {
        return pool.attestor().attestations(model, version,
                catalog.manifest(model, version).map(ModelManifest::sha256).orElse(null));
    }

    @Override
    public Optional<TestControl> testControl() {
        if (!config.getBoolean("meshinfer.test-mode")) {
            return Optional.empty();
        }
        return Optional.of(new TestControl() {
            @Override
            public CompletionStage<Done> partition(List<String> peers) {
                return throttle(peers, true);
            }

            @Override
            public CompletionStage<Done> heal(List<String> peers) {
                return throttle(peers, false);
            }
        });
    }

    private CompletionStage<Done> throttle(List<String> peers, boolean cut) {
        ClusterIncarnation inc = current.get();
        if (inc == null) {
            return CompletableFuture.failedFuture(new InferenceException.Unavailable("no cluster incarnation"));
        }
        List<String> targets = new ArrayList<>(peers);
        if (targets.isEmpty()) {
            // heal everything ever cut, including peers no longer members (removed by the cut)
            targets.addAll(cut ? List.of() : blackholed);
            inc.members().members().keySet().forEach(a -> targets.add(a.substring(a.indexOf('@') + 1)));
        }
        if (cut) {
            blackholed.addAll(targets);
        } else {
            blackholed.removeAll(targets);
        }
        return inc.throttle(targets, cut);
    }

    // ---- lifecycle ----

    /** The pool of replicas this process serves. */
    public ReplicaPool pool() {
        return pool;
    }

    public ServedCounters served() {
        return served;
    }

    public NodeSettings settings() {
        return settings;
    }

    /** The current cluster incarnation's actor system (it changes after a rejoin). */
    public ActorSystem<Void> clusterSystem() {
        return current.get().system();
    }

    /** Completes when this node is an Up member of the cluster. */
    public CompletionStage<Done> whenUp() {
        CompletableFuture<Done> up = new CompletableFuture<>();
        org.apache.pekko.cluster.Cluster.get(org.apache.pekko.actor.typed.javadsl.Adapter.toClassic(clusterSystem()))
                .registerOnMemberUp(() -> up.complete(Done.getInstance()));
        return up;
    }

    /**
     * Blocks until this node is ready: an Up member that has read the catalog.
     *
     * @throws IllegalStateException on timeout
     */
    public void awaitUp(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            whenUp().toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            while (!ready()) {
                if (System.nanoTime() - deadline > 0) {
                    throw new IllegalStateException("node " + settings.name() + " joined but did not read the"
                            + " catalog within " + timeout);
                }
                TimeUnit.MILLISECONDS.sleep(10); // membership and catalog views update asynchronously
            }
        } catch (IllegalStateException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("node " + settings.name() + " did not join the cluster within " + timeout,
                    e);
        }
    }

    /** The HTTP port actually bound (useful when configured as 0). */
    public int httpPort() {
        return binding.localAddress().getPort();
    }

    public String httpUrl() {
        return tls.scheme() + "://" + settings.httpHost() + ":" + httpPort();
    }

    /** The value of this node's {@code http:} role: {@code host:port} for HTTP, the whole URL for HTTPS. */
    private String httpRole() {
        String hostPort = settings.httpHost() + ":" + httpPort();
        return tls.https() ? tls.scheme() + "://" + hostPort : hostPort;
    }

    /**
     * The base URL of this node's mutual-TLS artifact port ({@code https://host:port}, the
     * value of its {@code artifacts:} role); empty without TLS between nodes.
     */
    public Optional<String> artifactUrl() {
        ServerBinding b = artifactBinding;
        return b == null ? Optional.empty()
                : Optional.of("https://" + settings.httpHost() + ":" + b.localAddress().getPort());
    }

    /** Completes with the process exit code when the node has stopped (0, or 3 when it exited on being downed). */
    public CompletionStage<Integer> whenExited() {
        return exited;
    }

    /**
     * The graceful leave: stop taking HTTP connections, let the requests in flight finish,
     * hand off replicas and leave the cluster, then drain and release every replica and stop
     * the local system. Idempotent.
     */
    public synchronized CompletionStage<Integer> shutdown() {
        if (leaveStarted) {
            return exited;
        }
        leaveStarted = true;
        draining = true; // requests already taken are still served; the drain refuses new ones after it
        log.info("node {} is leaving", settings.name());
        ClusterIncarnation inc = current.get();
        CompletionStage<Done> left = inc == null || inc.ended()
                ? drainHttp()
                : inc.leave().handle((d, e) -> Done.getInstance()); // coordinated shutdown drains HTTP first
        left.thenRun(() -> {
                    ClusterIncarnation last = current.get();
                    if (last != null) {
                        last.system().terminate();
                    }
                    ServerBinding b = binding;
                    if (b != null) {
                        b.unbind();
                    }
                    // kept until now: peers taking over this node's replicas may still fetch from it
                    ServerBinding artifactsBound = artifactBinding;
                    if (artifactsBound != null) {
                        artifactsBound.unbind();
                    }
                    pool.close();
                    audit.close();
                    local.terminate();
                })
                .whenComplete((v, e) -> exited.complete(0));
        return exited;
    }
}
