package io.meshinfer.registry;

import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.ddata.Key;
import org.apache.pekko.cluster.ddata.LWWMap;
import org.apache.pekko.cluster.ddata.LWWMapKey;
import org.apache.pekko.cluster.ddata.SelfUniqueAddress;
import org.apache.pekko.cluster.ddata.typed.javadsl.DistributedData;
import org.apache.pekko.cluster.ddata.typed.javadsl.Replicator;
import org.apache.pekko.cluster.ddata.typed.javadsl.ReplicatorMessageAdapter;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;

/**
 * Publishes consistency attestation results cluster-wide: a Distributed Data
 * {@code LWWMap} keyed by {@code model@version/node}, one entry per version and node (the
 * latest), and keeps the node's {@link AttestationView} current. One per cluster
 * membership; on start it installs itself as the {@link Attestor}'s sink and republishes
 * every result the process still holds (so a node that rejoins after being downed shows
 * its results again). Writes go to every reachable node; a missed write spreads by gossip.
 *
 * <p>Entries stay bounded by the catalog: when the catalog changes, a node removes its own
 * entries for versions no longer deployed (or redeployed with other bytes) and forgets its
 * local results for them; the leader also removes such entries of other nodes, and the
 * entries of nodes that are no longer members.
 */
public final class Attestations extends AbstractBehavior<Attestations.Command> {
    public static final Key<LWWMap<String, Attestation>> KEY = LWWMapKey.create("meshinfer-attestations");
    /** The role prefix under which each member publishes its node name. */
    private static final String NODE_ROLE = "node:";

    /** Local to this node. */
    public sealed interface Command extends NoSerializationVerificationNeeded {
    }

    /** A new result of this node. */
    public record Publish(Attestation attestation) implements Command {
    }

    private record Written(Replicator.UpdateResponse<LWWMap<String, Attestation>> response) implements Command {
    }

    private record Changed(Replicator.SubscribeResponse<LWWMap<String, Attestation>> response) implements Command {
    }

    /** The catalog now holds these versions ({@code model@version} to sha256). */
    private record CatalogChanged(Map<String, String> versions) implements Command {
    }

    private enum MemberRemoved implements Command { INSTANCE }

    private final ReplicatorMessageAdapter<Command, LWWMap<String, Attestation>> replicator;
    private final SelfUniqueAddress self;
    private final Cluster cluster;
    private final String selfAddress;
    private final Attestor attestor;
    private final Replicator.WriteConsistency writeAll;
    private final Consumer<Attestation> sink;
    /** Deployed versions ({@code model@version} to sha256), once the catalog is known here. */
    private Map<String, String> deployed;

    private Attestations(ActorContext<Command> ctx,
                         ReplicatorMessageAdapter<Command, LWWMap<String, Attestation>> replicator,
                         Attestor attestor, Duration writeTimeout) {
        super(ctx);
        this.replicator = replicator;
        this.self = DistributedData.get(ctx.getSystem()).selfUniqueAddress();
        this.cluster = Cluster.get(ctx.getSystem());
        this.selfAddress = cluster.selfMember().address().toString();
        this.attestor = attestor;
        this.writeAll = new Replicator.WriteAll(writeTimeout);
        replicator.subscribe(KEY, Changed::new);
        // one replicator adapter per actor (adapters are per response class): the catalog is watched by a child
        ctx.spawn(catalogWatcher(ctx.getSelf()), "catalog-watcher");
        ActorRef<ClusterEvent.MemberRemoved> removed = ctx.messageAdapter(ClusterEvent.MemberRemoved.class,
                e -> MemberRemoved.INSTANCE);
        cluster.subscriptions().tell(Subscribe.create(removed, ClusterEvent.MemberRemoved.class));
        ActorRef<Command> me = ctx.getSelf();
        this.sink = a -> me.tell(new Publish(a));
        attestor.sink(sink);
        for (Attestation a : attestor.local()) {
            publish(a);
        }
    }

    /**
     * @param attestor the process's attestor, whose results this membership publishes
     * @param writeTimeout how long a write waits for every node
     */
    public static Behavior<Command> create(Attestor attestor, Duration writeTimeout) {
        return Behaviors.setup(ctx -> DistributedData.withReplicatorMessageAdapter(
                (ReplicatorMessageAdapter<Command, LWWMap<String, Attestation>> r) ->
                        new Attestations(ctx, r, attestor, writeTimeout)));
    }

    /** Tells {@code parent} the deployed versions whenever the replicated catalog changes. */
    private static Behavior<Replicator.SubscribeResponse<LWWMap<String, ModelEntry>>> catalogWatcher(
            ActorRef<Command> parent) {
        return Behaviors.setup(ctx -> {
            DistributedData.get(ctx.getSystem()).replicator().tell(new Replicator.Subscribe<>(Catalog.KEY,
                    ctx.getSelf()));
            return Behaviors.receiveMessage(response -> {
                if (response instanceof Replicator.Changed<LWWMap<String, ModelEntry>> changed) {
                    Map<String, String> versions = new HashMap<>();
                    for (ModelEntry e : changed.dataValue().getEntries().values()) {
                        e.versions().values().forEach(m -> versions.put(m.key(), m.sha256()));
                    }
                    parent.tell(new CatalogChanged(versions));
                }
                return Behaviors.same();
            });
        });
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Publish.class, p -> {
                    publish(p.attestation());
                    return this;
                })
                .onMessage(Written.class, w -> this)
                .onMessage(Changed.class, this::onChanged)
                .onMessage(CatalogChanged.class, this::onCatalogChanged)
                .onMessage(MemberRemoved.class, m -> {
                    prune();
                    return this;
                })
                .onSignal(PostStop.class, s -> {
                    attestor.clearSink(sink);
                    return this;
                })
                .build();
    }

    private void publish(Attestation a) {
        Attestation here = a.withAddress(selfAddress);
        write(map -> map.put(self, here.key(), here));
    }

    private Behavior<Command> onChanged(Changed c) {
        if (c.response() instanceof Replicator.Changed<LWWMap<String, Attestation>> changed) {
            attestor.view().update(new HashMap<>(changed.dataValue().getEntries()));
        }
        return this;
    }

    private Behavior<Command> onCatalogChanged(CatalogChanged c) {
        deployed = c.versions();
        attestor.retain(deployed);
        prune();
        return this;
    }

    private void prune() {
        if (deployed == null) {
            return; // the catalog is not known here yet: nothing can be judged stale
        }
        Map<String, String> versions = deployed;
        boolean leader = cluster.selfMember().address().equals(cluster.state().getLeader());
        Set<String> members = new HashSet<>();
        if (leader) {
            for (Member m : cluster.state().getMembers()) {
                m.getRoles().stream().filter(r -> r.startsWith(NODE_ROLE))
                        .forEach(r -> members.add(r.substring(NODE_ROLE.length())));
            }
        }
        String node = attestor.node();
        Predicate<Attestation> stale = a ->
                ((leader || a.node().equals(node)) && !a.sha256().equals(versions.get(a.versionKey())))
                        || (leader && !members.contains(a.node()));
        if (attestor.view().all().stream().noneMatch(stale)) {
            return;
        }
        write(map -> {
            LWWMap<String, Attestation> next = map;
            for (Map.Entry<String, Attestation> e : map.getEntries().entrySet()) {
                if (stale.test(e.getValue())) {
                    next = next.remove(self, e.getKey());
                }
            }
            return next;
        });
    }

    private void write(java.util.function.Function<LWWMap<String, Attestation>, LWWMap<String, Attestation>> modify) {
        replicator.askUpdate(replyTo -> new Replicator.Update<>(KEY, LWWMap.create(), writeAll, replyTo,
                modify::apply), Written::new);
    }
}
