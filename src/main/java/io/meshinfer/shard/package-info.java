/**
 * Model replicas as Cluster Sharding entities ({@link io.meshinfer.shard.ModelReplica},
 * id {@code model@version#replica}) and the node's registry of the replicas it runs.
 */
package io.meshinfer.shard;
