package io.meshinfer.shard;

/**
 * Where one replica runs and whether it is ready, as published by the replica itself to
 * every node (Distributed Data). {@code address} is the cluster address of its node;
 * {@code node}, {@code region} and {@code zone} are that node's name and place.
 */
public record ReplicaLocation(String entityId, String model, String version, int replica, String node,
                              String address, String region, String zone, boolean ready, long sinceMillis) {
}
