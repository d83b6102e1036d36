package io.meshinfer.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.meshinfer.batching.BatchPolicy;
import io.meshinfer.client.InferenceClient;
import io.meshinfer.gateway.HttpGateway;
import io.meshinfer.registry.Catalog;
import io.meshinfer.registry.CatalogView;
import io.meshinfer.routing.Router;
import io.meshinfer.routing.RouterSettings;
import io.meshinfer.shard.LocalReplicas;
import io.meshinfer.shard.ModelReplica;
import io.meshinfer.shard.ReplicaEnvironment;
import io.meshinfer.shard.ReplicaReconciler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One incarnation of a meshinfer node: an actor system joined to the cluster, with the
 * catalog, the replica entities, the reconciler, the router and the HTTP gateway. The
 * {@link NodeResources} (sessions, artifact store) are the process's and outlive it.
 *
 * <p>Shutdown runs Pekko's coordinated shutdown: the HTTP port is unbound first, requests
 * in flight are answered, shards are handed off (each replica drains its batcher), and
 * the node leaves the cluster.
 */
public final class MeshNode {
    private static final Logger log = LoggerFactory.getLogger(MeshNode.class);

    private final ActorSystem<Void> system;
    private final NodeSettings settings;
    private final CatalogView catalog;
    private final LocalReplicas local;
    private final Router router;
    private final ServerBinding binding;

    private MeshNode(ActorSystem<Void> system, NodeSettings settings, CatalogView catalog, LocalReplicas local,
                     Router router, ServerBinding binding) {
        this.system = system;
        this.settings = settings;
        this.catalog = catalog;
        this.local = local;
        this.router = router;
        this.binding = binding;
    }

    /**
     * Starts a node and binds its HTTP port; returns once the port is bound (the node may
     * still be joining the cluster: see {@link #awaitUp}).
     *
     * @param config the full configuration (reference.conf with overrides)
     */
    public static MeshNode start(Config config, NodeResources resources) {
        NodeSettings settings = NodeSettings.fromConfig(config);
        Config withRoles = ConfigFactory.parseMap(Map.of("pekko.cluster.roles", roles(config, settings)))
                .withFallback(config);
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "meshinfer", withRoles);
        try {
            return wire(system, withRoles, settings, resources);
        } catch (RuntimeException e) {
            system.terminate();
            throw e;
        }
    }

    private static List<String> roles(Config config, NodeSettings settings) {
        List<String> roles = new ArrayList<>(config.getStringList("pekko.cluster.roles"));
        roles.add("region:" + settings.region());
        roles.add("zone:" + settings.zone());
        roles.add("node:" + settings.name());
        roles.add("replica-host");
        return roles;
    }

    private static MeshNode wire(ActorSystem<Void> system, Config config, NodeSettings settings,
                                 NodeResources resources) {
        CatalogView catalog = new CatalogView();
        Duration writeTimeout = config.getDuration("meshinfer.catalog.write-timeout");
        ActorRef<Catalog.Command> catalogRef =
                system.systemActorOf(Catalog.create(catalog, writeTimeout), "catalog", Props.empty());
        LocalReplicas local = new LocalReplicas();
        Executor blocking = system.dispatchers().lookup(DispatcherSelector.fromConfig("meshinfer.runtime-dispatcher"));
        RouterSettings routerSettings = RouterSettings.fromConfig(config);
        ReplicaEnvironment env = new ReplicaEnvironment(resources.runtime(), resources.store(), catalog, local,
                settings.name(), settings.region(), BatchPolicy.fromConfig(config), blocking,
                routerSettings.maxRequestBytes(),
                config.getDuration("meshinfer.placement.retry-load-after"),
                config.getDuration("meshinfer.placement.manifest-wait"));
        ModelReplica.init(system, env);
        system.systemActorOf(ReplicaReconciler.create(catalog,
                config.getDuration("meshinfer.placement.reconcile-interval")), "reconciler", Props.empty());
        Router router = new Router(system, catalog, routerSettings);

        Cluster cluster = Cluster.get(system);
        if (config.getStringList("pekko.cluster.seed-nodes").isEmpty()) {
            cluster.manager().tell(Join.create(cluster.selfMember().address()));
        }

        HttpGateway gateway = new HttpGateway(system, new HttpGateway.GatewayContext(router, catalogRef, local,
                resources.store(), resources.runtime(), blocking, settings.name(), settings.region(), settings.zone(),
                config.getBytes("meshinfer.http.max-request-body"), config.getBytes("meshinfer.http.max-model-body"),
                writeTimeout.plusSeconds(2)));
        ServerBinding binding;
        try {
            binding = gateway.bind(settings.httpHost(), settings.httpPort()).toCompletableFuture()
                    .get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("cannot bind HTTP on " + settings.httpHost() + ":" + settings.httpPort()
                    + ": " + e.getMessage(), e);
        }
        CoordinatedShutdown shutdown = CoordinatedShutdown.get(Adapter.toClassic(system));
        shutdown.addTask(CoordinatedShutdown.PhaseServiceUnbind(), "http-unbind", () -> binding.unbind());
        shutdown.addTask(CoordinatedShutdown.PhaseServiceRequestsDone(), "http-requests-done",
                () -> binding.terminate(Duration.ofSeconds(10)).thenApply(t -> Done.getInstance()));
        log.info("node {} (region {}, zone {}) serving HTTP on {}", settings.name(), settings.region(),
                settings.zone(), binding.localAddress());
        return new MeshNode(system, settings, catalog, local, router, binding);
    }

    /** Completes when this node is an Up member of the cluster. */
    public CompletionStage<Done> whenUp() {
        CompletableFuture<Done> up = new CompletableFuture<>();
        org.apache.pekko.cluster.Cluster.get(Adapter.toClassic(system))
                .registerOnMemberUp(() -> up.complete(Done.getInstance()));
        return up;
    }

    /** Blocks until this node is Up. @throws IllegalStateException on timeout */
    public void awaitUp(Duration timeout) {
        try {
            whenUp().toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("node " + settings.name() + " did not join the cluster within " + timeout, e);
        }
    }

    public ActorSystem<Void> system() {
        return system;
    }

    public NodeSettings settings() {
        return settings;
    }

    public CatalogView catalog() {
        return catalog;
    }

    public LocalReplicas localReplicas() {
        return local;
    }

    public Router router() {
        return router;
    }

    public InferenceClient client() {
        return InferenceClient.of(router);
    }

    /** The HTTP port actually bound (useful when configured as 0). */
    public int httpPort() {
        return binding.localAddress().getPort();
    }

    public String httpUrl() {
        return "http://" + settings.httpHost() + ":" + httpPort();
    }

    /** Runs coordinated shutdown and completes when the actor system has terminated. */
    public CompletionStage<Done> stop() {
        system.terminate();
        return system.getWhenTerminated();
    }
}
