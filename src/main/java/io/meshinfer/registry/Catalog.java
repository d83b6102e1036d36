package io.meshinfer.registry;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.pekko.Done;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.ddata.LWWMap;
import org.apache.pekko.cluster.ddata.Key;
import org.apache.pekko.cluster.ddata.LWWMapKey;
import org.apache.pekko.cluster.ddata.typed.javadsl.DistributedData;
import org.apache.pekko.cluster.ddata.typed.javadsl.Replicator;
import org.apache.pekko.cluster.ddata.typed.javadsl.ReplicatorMessageAdapter;
import org.apache.pekko.pattern.StatusReply;

/**
 * This node's reader of the model catalog: one {@link ModelEntry} per model in a
 * Distributed Data {@code LWWMap}, replicated to every node and durable on disk. Only the
 * {@link io.meshinfer.rollout.RolloutManager} singleton writes it (to a majority of nodes);
 * every node keeps its {@link CatalogView} current from change notifications, and the node
 * that asked for a change refreshes its view ({@link Refresh}) before it replies, so a deploy
 * is routable there as soon as it is acknowledged.
 */
public final class Catalog extends AbstractBehavior<Catalog.Command> {
    public static final Key<LWWMap<String, ModelEntry>> KEY = LWWMapKey.create("meshinfer-catalog");

    /** Local to this node: the catalog actor is never addressed from another node. */
    public sealed interface Command extends NoSerializationVerificationNeeded {
    }

    /**
     * Reads the catalog from a majority of nodes into this node's view, then acks: after
     * the rollout manager confirmed a change, this makes it visible here at once.
     */
    public record Refresh(ActorRef<StatusReply<Done>> replyTo) implements Command {
    }

    private record Refreshed(Replicator.GetResponse<LWWMap<String, ModelEntry>> response,
                             ActorRef<StatusReply<Done>> replyTo) implements Command {
    }

    private record Changed(Replicator.SubscribeResponse<LWWMap<String, ModelEntry>> response) implements Command {
    }

    /**
     * Read the catalog from a majority of nodes (sent once this node is Up): until the
     * catalog has been read or has changed, the node does not know what is deployed.
     */
    public enum Sync implements Command { INSTANCE }

    private record Synced(Replicator.GetResponse<LWWMap<String, ModelEntry>> response) implements Command {
    }

    private final ReplicatorMessageAdapter<Command, LWWMap<String, ModelEntry>> replicator;
    private final CatalogView view;
    private final Duration writeTimeout;
    private final java.util.concurrent.atomic.AtomicBoolean synced;

    private Catalog(ActorContext<Command> ctx,
                    ReplicatorMessageAdapter<Command, LWWMap<String, ModelEntry>> replicator,
                    CatalogView view, Duration writeTimeout, java.util.concurrent.atomic.AtomicBoolean synced) {
        super(ctx);
        this.replicator = replicator;
        this.view = view;
        this.writeTimeout = writeTimeout;
        this.synced = synced;
        replicator.subscribe(KEY, Changed::new);
    }

    /**
     * @param view the node's view this actor keeps current
     * @param writeTimeout how long a write may wait for a majority of nodes
     * @param synced set once this node has read the catalog from the cluster
     */
    public static Behavior<Command> create(CatalogView view, Duration writeTimeout,
                                           java.util.concurrent.atomic.AtomicBoolean synced) {
        return Behaviors.setup(ctx -> DistributedData.withReplicatorMessageAdapter(
                (ReplicatorMessageAdapter<Command, LWWMap<String, ModelEntry>> r) ->
                        new Catalog(ctx, r, view, writeTimeout, synced)));
    }

    @Override
    public org.apache.pekko.actor.typed.javadsl.Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Refresh.class, this::onRefresh)
                .onMessage(Refreshed.class, this::onRefreshed)
                .onMessage(Changed.class, this::onChanged)
                .onMessage(Sync.class, this::onSync)
                .onMessage(Synced.class, this::onSynced)
                .build();
    }

    private Behavior<Command> onRefresh(Refresh cmd) {
        replicator.askGet(askReplyTo -> new Replicator.Get<>(KEY, new Replicator.ReadMajority(writeTimeout),
                askReplyTo), response -> new Refreshed(response, cmd.replyTo()));
        return this;
    }

    private Behavior<Command> onRefreshed(Refreshed r) {
        if (r.response() instanceof Replicator.GetSuccess<LWWMap<String, ModelEntry>> ok) {
            publish(ok.dataValue());
        }
        r.replyTo().tell(StatusReply.ack());
        return this;
    }

    private Behavior<Command> onSync(Sync s) {
        replicator.askGet(askReplyTo -> new Replicator.Get<>(KEY, new Replicator.ReadMajority(writeTimeout),
                askReplyTo), Synced::new);
        return this;
    }

    private Behavior<Command> onSynced(Synced s) {
        if (s.response() instanceof Replicator.GetSuccess<LWWMap<String, ModelEntry>> ok) {
            publish(ok.dataValue());
            synced.set(true);
        } else if (s.response() instanceof Replicator.NotFound) {
            synced.set(true); // a majority holds no catalog: nothing is deployed
        } else {
            getContext().scheduleOnce(Duration.ofSeconds(1), getContext().getSelf(), Sync.INSTANCE);
        }
        return this;
    }

    private Behavior<Command> onChanged(Changed c) {
        if (c.response() instanceof Replicator.Changed<LWWMap<String, ModelEntry>> changed) {
            publish(changed.dataValue());
            synced.set(true);
        } else if (c.response() instanceof Replicator.Deleted) {
            publish(LWWMap.create());
        }
        return this;
    }

    private void publish(LWWMap<String, ModelEntry> map) {
        view.update(new HashMap<>(map.getEntries()));
    }

    /** All entries of the map as a plain Java map (for tests and tools). */
    public static Map<String, ModelEntry> entries(LWWMap<String, ModelEntry> map) {
        return new HashMap<>(map.getEntries());
    }
}
