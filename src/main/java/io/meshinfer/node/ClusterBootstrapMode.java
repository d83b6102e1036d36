package io.meshinfer.node;

import com.typesafe.config.Config;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.management.cluster.bootstrap.ClusterBootstrap;
import org.apache.pekko.management.javadsl.PekkoManagement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a cluster incarnation finds its cluster ({@code meshinfer.cluster.bootstrap}).
 *
 * <p>{@link #SEEDS}: Pekko joins {@code pekko.cluster.seed-nodes} by itself; with none
 * configured the node joins itself and forms a cluster of its own.
 *
 * <p>{@link #KUBERNETES}: Pekko Management serves the bootstrap contact point and Cluster
 * Bootstrap discovers the other pods through the Kubernetes API, then joins the cluster they
 * report or, when there is none, lets the pod with the lowest address form it. Both belong to
 * the incarnation's actor system: management unbinds when that system shuts down, so the next
 * incarnation (after a downing) binds the port again and rediscovers the cluster. If
 * management cannot bind, the incarnation terminates, which the node answers with a rejoin
 * after back-off.
 */
enum ClusterBootstrapMode {
    SEEDS,
    KUBERNETES;

    private static final Logger log = LoggerFactory.getLogger(ClusterBootstrapMode.class);

    /** @throws IllegalArgumentException on an unknown mode, or seed nodes with the Kubernetes mode */
    static ClusterBootstrapMode fromConfig(Config config) {
        String mode = config.getString("meshinfer.cluster.bootstrap");
        ClusterBootstrapMode m = switch (mode) {
            case "seeds" -> SEEDS;
            case "kubernetes" -> KUBERNETES;
            default -> throw new IllegalArgumentException("meshinfer.cluster.bootstrap (--bootstrap) must be 'seeds' or"
                    + " 'kubernetes', not '" + mode + "'");
        };
        if (m == KUBERNETES && !config.getStringList("pekko.cluster.seed-nodes").isEmpty()) {
            throw new IllegalArgumentException("seed nodes (--seeds) and meshinfer.cluster.bootstrap = kubernetes"
                    + " exclude each other: Cluster Bootstrap finds the cluster through the Kubernetes API");
        }
        return m;
    }

    /** Starts joining the cluster; membership events tell when this node is Up. */
    void join(ActorSystem<?> system, Config config) {
        Cluster cluster = Cluster.get(system);
        if (this == SEEDS) {
            if (config.getStringList("pekko.cluster.seed-nodes").isEmpty()) {
                cluster.manager().tell(Join.create(cluster.selfMember().address()));
            }
            return;
        }
        var classic = Adapter.toClassic(system);
        PekkoManagement management = PekkoManagement.get(classic);
        CoordinatedShutdown.get(classic).addTask(CoordinatedShutdown.PhaseServiceUnbind(), "meshinfer-management-unbind",
                () -> management.stop().exceptionally(e -> Done.getInstance()));
        management.start().whenComplete((uri, error) -> {
            if (error != null) {
                log.error("Pekko Management could not start ({}); ending this cluster membership to try again",
                        error.toString());
                system.terminate();
            } else {
                log.info("cluster bootstrap: Pekko Management on {}, discovering peers with {}", uri,
                        config.getString("pekko.management.cluster.bootstrap.contact-point-discovery.discovery-method"));
            }
        });
        ClusterBootstrap.get(classic).start();
    }
}
