package io.meshinfer.shard;

import io.meshinfer.registry.CatalogView;
import io.meshinfer.registry.ModelManifest;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.typed.Cluster;

/**
 * Keeps every desired replica running and loaded: on every catalog change and every
 * {@code interval}, it sends {@link ModelReplica.Wake} to each replica of each deployed
 * version. Cluster Sharding starts entities lazily; the wake makes it start them (and so
 * load their models) before the first request, and restarts replicas lost with a node as
 * soon as their shards are reallocated. Waking a running replica changes nothing. On the
 * leader it also prunes published locations of nodes that left the cluster.
 */
public final class ReplicaReconciler extends AbstractBehavior<ReplicaReconciler.Command> {

    /** Local to this node. */
    public sealed interface Command extends NoSerializationVerificationNeeded {
    }

    /** Check now (the catalog or the membership changed). */
    public enum Reconcile implements Command { INSTANCE }

    private final CatalogView catalog;
    private final ClusterSharding sharding;
    private final Cluster cluster;
    private final ActorRef<ReplicaLocations.Command> locations;
    private final ReplicaLocationView locationView;
    /** Removes this reconciler's catalog listener; the catalog view outlives the membership. */
    private final Runnable stopListening;

    private ReplicaReconciler(ActorContext<Command> ctx, CatalogView catalog,
                              ActorRef<ReplicaLocations.Command> locations, ReplicaLocationView locationView,
                              Runnable stopListening) {
        super(ctx);
        this.stopListening = stopListening;
        this.catalog = catalog;
        this.sharding = ClusterSharding.get(ctx.getSystem());
        this.cluster = Cluster.get(ctx.getSystem());
        this.locations = locations;
        this.locationView = locationView;
    }

    public static Behavior<Command> create(CatalogView catalog, ActorRef<ReplicaLocations.Command> locations,
                                           ReplicaLocationView locationView, Duration interval) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            timers.startTimerWithFixedDelay(Reconcile.INSTANCE, interval);
            Runnable stopListening = catalog.addListener(models -> ctx.getSelf().tell(Reconcile.INSTANCE));
            // a node that left takes its replicas with it: restart them as soon as sharding can
            ActorRef<org.apache.pekko.cluster.ClusterEvent.MemberRemoved> removed = ctx.messageAdapter(
                    org.apache.pekko.cluster.ClusterEvent.MemberRemoved.class, e -> Reconcile.INSTANCE);
            Cluster.get(ctx.getSystem()).subscriptions().tell(org.apache.pekko.cluster.typed.Subscribe.create(
                    removed, org.apache.pekko.cluster.ClusterEvent.MemberRemoved.class));
            return new ReplicaReconciler(ctx, catalog, locations, locationView, stopListening);
        }));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder().onMessage(Reconcile.class, r -> onReconcile())
                .onSignal(PostStop.class, s -> {
                    stopListening.run();
                    return this;
                }).build();
    }

    private Behavior<Command> onReconcile() {
        if (cluster.selfMember().status() != MemberStatus.up()) {
            return this;
        }
        for (ModelManifest m : catalog.manifests()) {
            for (String id : m.replicaIds()) {
                sharding.entityRefFor(ModelReplica.TYPE_KEY, id).tell(ModelReplica.Wake.INSTANCE);
            }
        }
        var state = cluster.state();
        if (cluster.selfMember().address().equals(state.getLeader())) {
            Set<String> live = new HashSet<>();
            for (Member m : state.getMembers()) {
                if (m.status() != MemberStatus.down() && m.status() != MemberStatus.removed()) {
                    live.add(m.address().toString());
                }
            }
            boolean stale = locationView.all().values().stream().anyMatch(l -> !live.contains(l.address()));
            if (stale) {
                locations.tell(new ReplicaLocations.Prune(live));
            }
        }
        return this;
    }
}
