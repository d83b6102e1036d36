package io.meshinfer.rollout;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

/**
 * Answers the rollout manager's questions about what this node saw of some versions since
 * a time, from its {@link VersionStats}. Registered with the receptionist, one per node.
 */
public final class StatsReporter {
    public static final ServiceKey<Query> KEY = ServiceKey.create(Query.class, "meshinfer-version-stats");

    /** What did these versions ("model@version") do since {@code sinceMillis}? */
    public record Query(List<String> versions, long sinceMillis, ActorRef<Report> replyTo) {
    }

    /** This node's answer, one snapshot per asked version. */
    public record Report(String node, Map<String, StatsSnapshot> stats) {
    }

    private StatsReporter() {
    }

    public static Behavior<Query> create(VersionStats stats, String node) {
        return Behaviors.setup(ctx -> {
            ctx.getSystem().receptionist().tell(Receptionist.register(KEY, ctx.getSelf()));
            return Behaviors.receiveMessage(q -> {
                Map<String, StatsSnapshot> out = new HashMap<>();
                for (String v : q.versions()) {
                    out.put(v, stats.since(v, q.sinceMillis()));
                }
                q.replyTo().tell(new Report(node, Map.copyOf(out)));
                return Behaviors.same();
            });
        });
    }
}
