package io.meshinfer.shard;

import io.meshinfer.registry.CatalogView;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * What every replica entity of one cluster incarnation shares: the process's replica pool
 * and catalog view, the actor publishing replica locations, this node's cluster address,
 * the HTTP addresses of peers (to fetch missing artifacts from), and timings.
 *
 * @param retryLoadAfter how long a replica whose load failed waits before trying again
 * @param manifestWait how long a starting replica waits for its manifest to arrive
 * @param linger how long a stopped replica keeps answering UNAVAILABLE before it is gone
 * @param large how answers too large for Artery's ordinary channel reach a caller on another node
 * @param continuation what follows a pipeline stage asked for by another node
 */
public record ReplicaEnvironment(
        ReplicaPool pool,
        CatalogView catalog,
        ActorRef<ReplicaLocations.Command> locations,
        String selfAddress,
        Supplier<List<String>> peers,
        Duration retryLoadAfter,
        Duration manifestWait,
        Duration linger,
        LargeMessages large,
        StageContinuation continuation) {
}
