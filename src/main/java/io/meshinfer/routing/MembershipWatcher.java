package io.meshinfer.routing;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;

/**
 * Keeps a {@link MembershipView} current from cluster events: every membership or
 * reachability change rebuilds the view from the cluster's current state, and members
 * that became unreachable or were removed are announced to the view's listeners.
 */
public final class MembershipWatcher extends AbstractBehavior<MembershipWatcher.Event> {

    /** Local to this node. */
    public sealed interface Event extends NoSerializationVerificationNeeded {
    }

    private record Changed(ClusterEvent.ClusterDomainEvent event) implements Event {
    }

    private enum Refresh implements Event { INSTANCE }

    private final Cluster cluster;
    private final MembershipView view;

    private MembershipWatcher(ActorContext<Event> ctx, MembershipView view) {
        super(ctx);
        this.cluster = Cluster.get(ctx.getSystem());
        this.view = view;
        ActorRef<ClusterEvent.ClusterDomainEvent> adapter =
                ctx.messageAdapter(ClusterEvent.ClusterDomainEvent.class, Changed::new);
        cluster.subscriptions().tell(Subscribe.create(adapter, ClusterEvent.ClusterDomainEvent.class));
        refresh(List.of());
    }

    public static Behavior<Event> create(MembershipView view) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            // events can reach this actor before the cluster's own state reflects them: re-read
            // it regularly so the view is never stale for longer than this
            timers.startTimerWithFixedDelay(Refresh.INSTANCE, java.time.Duration.ofMillis(250));
            return new MembershipWatcher(ctx, view);
        }));
    }

    @Override
    public Receive<Event> createReceive() {
        return newReceiveBuilder()
                .onMessage(Changed.class, this::onChanged)
                .onMessage(Refresh.class, r -> {
                    refresh(List.of());
                    return this;
                })
                .build();
    }

    private Behavior<Event> onChanged(Changed c) {
        List<String> lost = new ArrayList<>();
        if (c.event() instanceof ClusterEvent.UnreachableMember u) {
            lost.add(u.member().address().toString());
        } else if (c.event() instanceof ClusterEvent.MemberRemoved r) {
            lost.add(r.member().address().toString());
        } else if (c.event() instanceof ClusterEvent.MemberDowned d) {
            lost.add(d.member().address().toString());
            view.countDowned();
        }
        refresh(lost);
        return this;
    }

    private void refresh(List<String> lost) {
        ClusterEvent.CurrentClusterState state = cluster.state();
        Set<Member> unreachable = state.getUnreachable();
        Map<String, MemberInfo> members = new HashMap<>();
        for (Member m : state.getMembers()) {
            Set<String> roles = m.getRoles();
            String address = m.address().toString();
            members.put(address, new MemberInfo(address, MemberInfo.role(roles, "node:", address),
                    MemberInfo.role(roles, "region:", ""), MemberInfo.role(roles, "zone:", ""),
                    MemberInfo.role(roles, "http:", ""), MemberInfo.role(roles, "artifacts:", ""),
                    m.status().toString(), !unreachable.contains(m),
                    roles.contains("replica-host"), io.meshinfer.shard.MemoryBudget.budgetOf(roles)));
        }
        Member self = cluster.selfMember();
        view.update(self.address().toString(), self.status().toString(), members, lost);
    }
}
