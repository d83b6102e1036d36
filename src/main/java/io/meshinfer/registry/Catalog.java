package io.meshinfer.registry;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;
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
import org.apache.pekko.cluster.ddata.SelfUniqueAddress;
import org.apache.pekko.cluster.ddata.typed.javadsl.DistributedData;
import org.apache.pekko.cluster.ddata.typed.javadsl.Replicator;
import org.apache.pekko.cluster.ddata.typed.javadsl.ReplicatorMessageAdapter;
import org.apache.pekko.pattern.StatusReply;

/**
 * The model catalog: one {@link ModelEntry} per model in a Distributed Data
 * {@code LWWMap}, replicated to every node. Writes go to a majority of nodes; every node
 * keeps its {@link CatalogView} current from change notifications, and the node that
 * wrote refreshes its view before it replies, so a deploy is routable here as soon as
 * it is acknowledged.
 */
public final class Catalog extends AbstractBehavior<Catalog.Command> {
    public static final Key<LWWMap<String, ModelEntry>> KEY = LWWMapKey.create("meshinfer-catalog");

    /** Local to this node: the catalog actor is never addressed from another node. */
    public sealed interface Command extends NoSerializationVerificationNeeded {
    }

    /** Adds or replaces one model version. */
    public record Deploy(ModelManifest manifest, ActorRef<StatusReply<Done>> replyTo) implements Command {
    }

    /** Removes one model version; replies an error if it is not deployed. */
    public record Undeploy(String model, String version, ActorRef<StatusReply<Done>> replyTo) implements Command {
    }

    private record WriteResult(Replicator.UpdateResponse<LWWMap<String, ModelEntry>> response,
                               ActorRef<StatusReply<Done>> replyTo) implements Command {
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
    private final SelfUniqueAddress self;
    private final CatalogView view;
    private final Duration writeTimeout;
    private final java.util.concurrent.atomic.AtomicBoolean synced;

    private Catalog(ActorContext<Command> ctx,
                    ReplicatorMessageAdapter<Command, LWWMap<String, ModelEntry>> replicator,
                    CatalogView view, Duration writeTimeout, java.util.concurrent.atomic.AtomicBoolean synced) {
        super(ctx);
        this.replicator = replicator;
        this.self = DistributedData.get(ctx.getSystem()).selfUniqueAddress();
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
                .onMessage(Deploy.class, this::onDeploy)
                .onMessage(Undeploy.class, this::onUndeploy)
                .onMessage(WriteResult.class, this::onWriteResult)
                .onMessage(Refreshed.class, this::onRefreshed)
                .onMessage(Changed.class, this::onChanged)
                .onMessage(Sync.class, this::onSync)
                .onMessage(Synced.class, this::onSynced)
                .build();
    }

    private Behavior<Command> onDeploy(Deploy cmd) {
        ModelManifest m = cmd.manifest();
        write(map -> {
            ModelEntry current = map.get(m.model()).getOrElse(() -> ModelEntry.empty(m.model()));
            return map.put(self, m.model(), current.withVersion(m));
        }, cmd.replyTo());
        return this;
    }

    private Behavior<Command> onUndeploy(Undeploy cmd) {
        if (view.manifest(cmd.model(), cmd.version()).isEmpty()) {
            cmd.replyTo().tell(StatusReply.error("version '" + cmd.version() + "' of model '" + cmd.model()
                    + "' is not deployed"));
            return this;
        }
        write(map -> {
            if (!map.contains(cmd.model())) {
                return map;
            }
            ModelEntry next = map.get(cmd.model()).get().withoutVersion(cmd.version());
            return next.versions().isEmpty() ? map.remove(self, cmd.model()) : map.put(self, cmd.model(), next);
        }, cmd.replyTo());
        return this;
    }

    private void write(Function<LWWMap<String, ModelEntry>, LWWMap<String, ModelEntry>> modify,
                       ActorRef<StatusReply<Done>> replyTo) {
        replicator.askUpdate(
                askReplyTo -> new Replicator.Update<>(KEY, LWWMap.create(),
                        new Replicator.WriteMajority(writeTimeout), askReplyTo, modify::apply),
                response -> new WriteResult(response, replyTo));
    }

    private Behavior<Command> onWriteResult(WriteResult r) {
        if (r.response() instanceof Replicator.UpdateSuccess) {
            replicator.askGet(askReplyTo -> new Replicator.Get<>(KEY, Replicator.readLocal(), askReplyTo),
                    response -> new Refreshed(response, r.replyTo()));
        } else if (r.response() instanceof Replicator.UpdateTimeout) {
            r.replyTo().tell(StatusReply.error("the catalog change was not confirmed by a majority of nodes within "
                    + writeTimeout.toSeconds() + " s; it is stored here and spreads when they are reachable"));
        } else {
            r.replyTo().tell(StatusReply.error("the catalog change failed: " + r.response()));
        }
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
