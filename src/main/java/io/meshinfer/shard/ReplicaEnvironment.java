package io.meshinfer.shard;

import io.meshinfer.batching.BatchPolicy;
import io.meshinfer.registry.ArtifactStore;
import io.meshinfer.registry.CatalogView;
import io.meshinfer.runtime.ModelRuntime;
import java.time.Duration;
import java.util.concurrent.Executor;

/**
 * What every replica on a node shares: the node-local runtime and artifact store (which
 * outlive the actor system), the catalog view, the node's replica registry, where it
 * stands (node name and region), batching defaults, the blocking executor model loads
 * and runs use, and limits.
 *
 * @param maxRequestBytes the largest total input size of one request
 * @param retryLoadAfter how long a replica whose load failed waits before trying again
 * @param manifestWait how long a starting replica waits for its manifest to arrive
 */
public record ReplicaEnvironment(
        ModelRuntime runtime,
        ArtifactStore store,
        CatalogView catalog,
        LocalReplicas local,
        String nodeName,
        String region,
        BatchPolicy defaults,
        Executor blocking,
        long maxRequestBytes,
        Duration retryLoadAfter,
        Duration manifestWait) {
}
