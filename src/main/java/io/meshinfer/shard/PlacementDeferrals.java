package io.meshinfer.shard;

import java.util.Locale;
import java.util.concurrent.atomic.LongAdder;

/**
 * How often this node's shard coordinator deferred placing a replica (the allocation failed
 * and the coordinator asks again later), by reason. Only the coordinator (the oldest member)
 * places replicas, so on every other node the counts stay where they were. Kept by the node,
 * across its cluster memberships; one counter per reason, so it is bounded.
 */
public final class PlacementDeferrals {
    /** Why a placement was deferred. */
    public enum Reason {
        /** The version's manifest has not reached the coordinator's catalog view yet. */
        MANIFEST_PENDING,
        /** No reachable, Up replica host in a region the version may run in. */
        NO_ELIGIBLE_NODE,
        /** Eligible hosts exist, but none has memory budget left for the replica. */
        NO_MEMORY_BUDGET,
        /** A joining node that would keep replicas apart has not registered its shard region yet. */
        AWAITING_REGISTRATION;

        /** The metric label: the name in lower case. */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final LongAdder[] counts = new LongAdder[Reason.values().length];

    public PlacementDeferrals() {
        for (int i = 0; i < counts.length; i++) {
            counts[i] = new LongAdder();
        }
    }

    void record(Reason reason) {
        counts[reason.ordinal()].increment();
    }

    /** Deferrals for {@code reason} since this node started. */
    public long count(Reason reason) {
        return counts[reason.ordinal()].sum();
    }
}
