package io.meshinfer.routing;

import io.meshinfer.api.InferenceException;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.registry.CatalogView;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.shard.PooledReplica;
import io.meshinfer.shard.ReplicaPool;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Serving while this node is cut off from its cluster ("island mode"): requests are
 * answered from this node's own replicas (attached or orphaned by a downing), using the
 * last catalog it knew, when the request's residency allows this node's region; the
 * answers say {@code islandMode}. Anything else is refused at once with
 * {@code UNAVAILABLE}, never forwarded. This keeps an edge site serving when its uplink
 * fails.
 */
public final class IslandRouter implements InferenceService {
    private final CatalogView catalog;
    private final ReplicaPool pool;
    private final long maxRequestBytes;

    public IslandRouter(CatalogView catalog, ReplicaPool pool, long maxRequestBytes) {
        this.catalog = catalog;
        this.pool = pool;
        this.maxRequestBytes = maxRequestBytes;
    }

    @Override
    public CompletionStage<InferenceResponse> infer(InferenceRequest request) {
        ModelManifest manifest;
        try {
            manifest = Router.resolve(catalog, request);
            manifest.signature().prepare(request.inputs(), request.outputs(), maxRequestBytes);
        } catch (InferenceException e) {
            return CompletableFuture.failedFuture(e);
        }
        List<PooledReplica> local = pool.servingVersion(manifest.model(), manifest.version());
        if (local.isEmpty()) {
            return CompletableFuture.failedFuture(new InferenceException.Unavailable("this node is cut off from its"
                    + " cluster and holds no replica of " + manifest.key()));
        }
        List<PooledReplica> allowed = local.stream().filter(r -> r.residencyAllows(request)).toList();
        if (allowed.isEmpty()) {
            return CompletableFuture.failedFuture(new InferenceException.Unavailable("this node is cut off from its"
                    + " cluster, and its region " + pool.place().region() + " is outside the request's residency "
                    + request.residency()));
        }
        PooledReplica pick = allowed.stream()
                .min(Comparator.comparingInt((PooledReplica r) -> r.batcher().outstanding()))
                .orElseThrow();
        return pick.serve(request, true);
    }
}
