package io.meshinfer.shard;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.cluster.ddata.Key;
import org.apache.pekko.cluster.ddata.LWWMap;
import org.apache.pekko.cluster.ddata.LWWMapKey;
import org.apache.pekko.cluster.ddata.SelfUniqueAddress;
import org.apache.pekko.cluster.ddata.typed.javadsl.DistributedData;
import org.apache.pekko.cluster.ddata.typed.javadsl.Replicator;
import org.apache.pekko.cluster.ddata.typed.javadsl.ReplicatorMessageAdapter;

/**
 * Publishes where this node's replicas run (a Distributed Data {@code LWWMap} keyed by
 * entity id) and keeps the node's {@link ReplicaLocationView} current. Writes go to every
 * reachable node at once so routers learn of a new or moved replica within a round trip;
 * a write that some node misses still spreads by gossip.
 */
public final class ReplicaLocations extends AbstractBehavior<ReplicaLocations.Command> {
    public static final Key<LWWMap<String, ReplicaLocation>> KEY = LWWMapKey.create("meshinfer-replica-locations");

    /** Local to this node. */
    public sealed interface Command extends NoSerializationVerificationNeeded {
    }

    /** This replica now runs here (ready or not). */
    public record Publish(ReplicaLocation location) implements Command {
    }

    /** This replica no longer runs at {@code address}; a newer entry from elsewhere is kept. */
    public record Withdraw(String entityId, String address) implements Command {
    }

    /** Removes every entry whose node is not one of {@code liveAddresses} (run by the leader). */
    public record Prune(Set<String> liveAddresses) implements Command {
    }

    private record Written(Replicator.UpdateResponse<LWWMap<String, ReplicaLocation>> response) implements Command {
    }

    private record Changed(Replicator.SubscribeResponse<LWWMap<String, ReplicaLocation>> response)
            implements Command {
    }

    private final ReplicatorMessageAdapter<Command, LWWMap<String, ReplicaLocation>> replicator;
    private final SelfUniqueAddress self;
    private final ReplicaLocationView view;
    private final Replicator.WriteConsistency writeAll;

    private ReplicaLocations(ActorContext<Command> ctx,
                             ReplicatorMessageAdapter<Command, LWWMap<String, ReplicaLocation>> replicator,
                             ReplicaLocationView view, Duration writeTimeout) {
        super(ctx);
        this.replicator = replicator;
        this.self = DistributedData.get(ctx.getSystem()).selfUniqueAddress();
        this.view = view;
        this.writeAll = new Replicator.WriteAll(writeTimeout);
        replicator.subscribe(KEY, Changed::new);
    }

    public static Behavior<Command> create(ReplicaLocationView view, Duration writeTimeout) {
        return Behaviors.setup(ctx -> DistributedData.withReplicatorMessageAdapter(
                (ReplicatorMessageAdapter<Command, LWWMap<String, ReplicaLocation>> r) ->
                        new ReplicaLocations(ctx, r, view, writeTimeout)));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Publish.class, this::onPublish)
                .onMessage(Withdraw.class, this::onWithdraw)
                .onMessage(Prune.class, this::onPrune)
                .onMessage(Written.class, w -> this)
                .onMessage(Changed.class, this::onChanged)
                .build();
    }

    private Behavior<Command> onPublish(Publish p) {
        ReplicaLocation l = p.location();
        Map<String, ReplicaLocation> local = new HashMap<>(view.all());
        local.put(l.entityId(), l);
        view.update(local);
        write(map -> map.put(self, l.entityId(), l));
        return this;
    }

    private Behavior<Command> onWithdraw(Withdraw w) {
        write(map -> {
            var current = map.get(w.entityId());
            if (current.isDefined() && current.get().address().equals(w.address())) {
                return map.remove(self, w.entityId());
            }
            return map;
        });
        return this;
    }

    private Behavior<Command> onPrune(Prune p) {
        write(map -> {
            LWWMap<String, ReplicaLocation> next = map;
            for (Map.Entry<String, ReplicaLocation> e : map.getEntries().entrySet()) {
                if (!p.liveAddresses().contains(e.getValue().address())) {
                    next = next.remove(self, e.getKey());
                }
            }
            return next;
        });
        return this;
    }

    private void write(java.util.function.Function<LWWMap<String, ReplicaLocation>,
            LWWMap<String, ReplicaLocation>> modify) {
        replicator.askUpdate(replyTo -> new Replicator.Update<>(KEY, LWWMap.create(), writeAll, replyTo,
                modify::apply), Written::new);
    }

    private Behavior<Command> onChanged(Changed c) {
        if (c.response() instanceof Replicator.Changed<LWWMap<String, ReplicaLocation>> changed) {
            view.update(new HashMap<>(changed.dataValue().getEntries()));
        }
        return this;
    }
}
