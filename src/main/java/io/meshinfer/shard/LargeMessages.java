package io.meshinfer.shard;

import com.typesafe.config.Config;
import io.meshinfer.tensor.NamedTensor;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * Carries inference messages too large for Artery's ordinary channel (its frame,
 * {@code pekko.remote.artery.advanced.maximum-frame-size}, 256 KiB by default; Artery drops
 * a larger message with an error log, so the caller would wait out its whole deadline).
 *
 * <p>Artery picks the large-message channel by the recipient's path, so each node runs one
 * relay actor at {@value #PATH}, listed in {@code pekko.remote.artery.large-message-destinations}.
 * A request with more than {@link #ordinaryLimit()} tensor bytes is sent to the relay of its
 * replica's node, wrapped in a {@link Forward}, and the relay hands it to the replica there;
 * an answer that large goes to the relay of the caller's node the same way. Messages above
 * {@link #largeLimit()} (the large channel's frame) cannot travel between nodes at all: the
 * router serves them only from a replica on the node they entered (see {@code Router}).
 * Thread-safe.
 */
public final class LargeMessages {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(LargeMessages.class);
    /** Name of the relay actor under {@code /system}. */
    public static final String NAME = "meshinfer-large";
    /** The relay's path on every node (configured as a large-message destination). */
    public static final String PATH = "/system/" + NAME;
    /** Room left in a frame for what a message carries besides its tensors (ids, names, principal, trace). */
    static final long HEADROOM = 32 * 1024;
    /** Relay references kept; addresses change only with nodes and restarts, so this is never reached in practice. */
    private static final int MAX_RELAYS = 1024;

    /** A message for a replica or for a waiting caller, to hand to {@code target} on the relay's node. */
    public record Forward(ActorRef<?> target, Object message) {
    }

    private final ActorRefResolver resolver;
    private final long ordinaryLimit;
    private final long largeLimit;
    private final Map<String, ActorRef<Forward>> relays = new ConcurrentHashMap<>();

    public LargeMessages(ActorSystem<?> system) {
        this(ActorRefResolver.get(system), system.settings().config());
    }

    LargeMessages(ActorRefResolver resolver, Config config) {
        this.resolver = resolver;
        Config artery = config.getConfig("pekko.remote.artery.advanced");
        this.ordinaryLimit = artery.getBytes("maximum-frame-size") - HEADROOM;
        this.largeLimit = artery.getBytes("maximum-large-frame-size") - HEADROOM;
        if (ordinaryLimit <= 0 || largeLimit < ordinaryLimit) {
            throw new IllegalArgumentException("pekko.remote.artery.advanced.maximum-frame-size and"
                    + " maximum-large-frame-size must exceed " + HEADROOM + " bytes, the large one the ordinary one");
        }
        boolean listed = config.getStringList("pekko.remote.artery.large-message-destinations").contains(PATH);
        if (!listed) {
            throw new IllegalArgumentException("pekko.remote.artery.large-message-destinations must list " + PATH);
        }
    }

    /** Most tensor bytes a message may carry on Artery's ordinary channel. */
    public long ordinaryLimit() {
        return ordinaryLimit;
    }

    /** Most tensor bytes a message may carry between nodes at all. */
    public long largeLimit() {
        return largeLimit;
    }

    /** Whether a message with these tensors must take the large channel. */
    public boolean large(List<NamedTensor> tensors) {
        return bytes(tensors) > ordinaryLimit;
    }

    /** Raw bytes of some tensors. */
    public static long bytes(List<NamedTensor> tensors) {
        long sum = 0;
        for (NamedTensor t : tensors) {
            sum += t.tensor().byteSize();
        }
        return sum;
    }

    /** The relay on the node with this cluster address ({@code pekko://meshinfer@host:port}). */
    public ActorRef<Forward> relayAt(String address) {
        ActorRef<Forward> relay = relays.get(address);
        if (relay == null) {
            if (relays.size() >= MAX_RELAYS) {
                relays.clear();
            }
            relay = resolver.resolveActorRef(address + PATH);
            relays.put(address, relay);
        }
        return relay;
    }

    /**
     * The relay: hands each {@link Forward} to its target on this node. It forwards only
     * what the large channel exists for (a request to a replica, a replica's answer) and
     * only to actors of this node; anything else is dropped with a warning.
     */
    public static Behavior<Forward> relay() {
        return Behaviors.receive((ctx, f) -> {
            boolean local = f.target() != null && !f.target().path().address().hasGlobalScope();
            boolean inference = f.message() instanceof ModelReplica.Infer || f.message() instanceof ModelReplica.Reply;
            if (local && inference) {
                @SuppressWarnings("unchecked")
                ActorRef<Object> target = (ActorRef<Object>) f.target();
                target.tell(f.message());
            } else {
                log.warn("dropped a large message ({}) for {}: the relay forwards only inference messages to"
                                + " actors of this node", f.message() == null ? "null" : f.message().getClass().getName(),
                        f.target() == null ? "no target" : f.target().path());
            }
            return Behaviors.same();
        });
    }
}
