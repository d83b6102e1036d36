package io.meshinfer.shard;

import org.apache.pekko.actor.CoordinatedShutdown;

/**
 * The coordinated-shutdown reason of a node leaving on purpose (SIGTERM, the CLI). Other
 * reasons (the cluster downed or removed the node) keep the loaded replicas for island
 * mode instead of releasing them.
 */
public enum GracefulLeave implements CoordinatedShutdown.Reason {
    INSTANCE;

    /** Whether the reason of a coordinated shutdown means the node is leaving on purpose. */
    public static boolean isLeaving(CoordinatedShutdown.Reason reason) {
        return reason == INSTANCE || reason instanceof CoordinatedShutdown.JvmExitReason$;
    }
}
