package io.meshinfer.shard;

import io.meshinfer.registry.CatalogView;
import io.meshinfer.registry.ModelManifest;
import java.time.Duration;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;

/**
 * Keeps every desired replica running and loaded: on every catalog change and every
 * {@code interval}, it sends {@link ModelReplica.Wake} to each replica of each deployed
 * version. Cluster Sharding starts entities lazily; the wake makes it start them (and so
 * load their models) before the first request, and restarts replicas lost with a node.
 * Waking a running replica costs one message and changes nothing.
 */
public final class ReplicaReconciler extends AbstractBehavior<ReplicaReconciler.Command> {

    /** Local to this node. */
    public sealed interface Command extends NoSerializationVerificationNeeded {
    }

    /** Check now (the catalog changed). */
    public enum Reconcile implements Command { INSTANCE }

    private final CatalogView catalog;
    private final ClusterSharding sharding;

    private ReplicaReconciler(ActorContext<Command> ctx, CatalogView catalog) {
        super(ctx);
        this.catalog = catalog;
        this.sharding = ClusterSharding.get(ctx.getSystem());
    }

    public static Behavior<Command> create(CatalogView catalog, Duration interval) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            timers.startTimerWithFixedDelay(Reconcile.INSTANCE, interval);
            catalog.addListener(models -> ctx.getSelf().tell(Reconcile.INSTANCE));
            return new ReplicaReconciler(ctx, catalog);
        }));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder().onMessage(Reconcile.class, r -> onReconcile()).build();
    }

    private Behavior<Command> onReconcile() {
        for (ModelManifest m : catalog.manifests()) {
            for (String id : m.replicaIds()) {
                sharding.entityRefFor(ModelReplica.TYPE_KEY, id).tell(ModelReplica.Wake.INSTANCE);
            }
        }
        return this;
    }
}
