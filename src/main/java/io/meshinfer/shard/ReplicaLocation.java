package io.meshinfer.shard;

import org.apache.pekko.actor.typed.ActorRef;

/**
 * Where one replica runs and whether it is ready, as published by the replica itself to
 * every node (Distributed Data). {@code address} is the cluster address of its node;
 * {@code node}, {@code region} and {@code zone} are that node's name and place; {@code entity} is
 * the replica actor itself, which routers address directly (one network hop, no shard
 * region in between) while the location stands.
 */
public record ReplicaLocation(String entityId, String model, String version, int replica, String node,
                              String address, String region, String zone, boolean ready, long sinceMillis,
                              ActorRef<ModelReplica.Command> entity) {
}
