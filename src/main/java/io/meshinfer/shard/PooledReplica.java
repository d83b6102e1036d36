package io.meshinfer.shard;

import io.meshinfer.api.InferenceError;
import io.meshinfer.api.InferenceException;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.api.Principal;
import io.meshinfer.batching.Batcher;
import io.meshinfer.batching.ResultSink;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.registry.ReplicaId;
import io.meshinfer.runtime.LoadedModel;
import io.meshinfer.runtime.ModelSignature;
import io.meshinfer.security.AuditLog;
import io.meshinfer.tensor.NamedTensor;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One loaded replica in this process: its manifest, its session and its batcher. Serving
 * checks residency (the request's allowed regions must include this node's region: the
 * guarantee is enforced here, where the data would be processed) and the request's
 * principal again (its token must allow this model and this region), validates, queues,
 * and counts what it served.
 */
public final class PooledReplica {
    /** Where replicas of this process run, the limits they apply, and what they report to (drift, audit). */
    public record Place(String node, String region, String zone, long maxRequestBytes, ServedCounters served,
                        io.meshinfer.observability.DriftRegistry drift, AuditLog audit) {
    }

    /** A replica's state in the pool. */
    public enum Status { READY, ORPHANED, STOPPING }

    private final String entityId;
    private final ReplicaId id;
    private final ModelManifest manifest;
    private final LoadedModel model;
    private final Batcher batcher;
    private final Place place;
    private final ServedCounters.Version served;
    private volatile Status status = Status.READY;
    private volatile long orphanedAtNanos;

    PooledReplica(String entityId, ModelManifest manifest, LoadedModel model, Batcher batcher, Place place) {
        this.entityId = entityId;
        this.id = ReplicaId.parse(entityId);
        this.manifest = manifest;
        this.model = model;
        this.batcher = batcher;
        this.place = place;
        this.served = place.served().forVersion(id.model(), id.version());
    }

    public String entityId() {
        return entityId;
    }

    public ReplicaId id() {
        return id;
    }

    public ModelManifest manifest() {
        return manifest;
    }

    public LoadedModel model() {
        return model;
    }

    public Batcher batcher() {
        return batcher;
    }

    public Status status() {
        return status;
    }

    /** Whether it takes requests (attached to an entity, or orphaned for island mode). */
    public boolean serving() {
        return status != Status.STOPPING;
    }

    /** How long it has been orphaned, in nanoseconds (0 when attached). */
    public long orphanedForNanos() {
        return status == Status.ORPHANED ? System.nanoTime() - orphanedAtNanos : 0;
    }

    void markAttached() {
        if (status == Status.ORPHANED) {
            status = Status.READY;
        }
    }

    void markOrphaned() {
        if (status == Status.READY) {
            orphanedAtNanos = System.nanoTime();
            status = Status.ORPHANED;
        }
    }

    void markStopping() {
        status = Status.STOPPING;
    }

    /** Whether this node's region may process {@code request}: its residency and its token allow the region. */
    public boolean residencyAllows(InferenceRequest request) {
        return (request.residency().isEmpty() || request.residency().contains(place.region()))
                && (request.principal() == null || request.principal().mayServeIn(place.region()));
    }

    /**
     * Serves one request; the future completes exactly once, on the run's thread, with
     * the response or an {@link InferenceException}.
     *
     * @param island whether the node is cut off from its cluster (marked in the response)
     */
    public CompletableFuture<InferenceResponse> serve(InferenceRequest request, boolean island) {
        return serve(request, null, island);
    }

    /**
     * As {@link #serve(InferenceRequest, boolean)}, with the request already validated
     * against this replica's signature (a router on this node did it): not validated twice.
     */
    public CompletableFuture<InferenceResponse> serve(InferenceRequest request, ModelSignature.Prepared validated,
                                                      boolean island) {
        CompletableFuture<InferenceResponse> result = new CompletableFuture<>();
        if (!residencyAllows(request)) {
            result.completeExceptionally(new InferenceException.ResidencyViolation("replica " + entityId
                    + " runs in region " + place.region() + ", outside the request's residency "
                    + new TreeSet<>(request.residency()) + (request.principal() == null ? ""
                    : " or the regions its token allows " + new TreeSet<>(request.principal().regions()))));
            return result;
        }
        Principal principal = request.principal();
        if (principal != null && !principal.mayUseModel(id.model())) {
            result.completeExceptionally(new InferenceException.PermissionDenied("replica " + entityId
                    + ": the token of '" + principal.subject() + "' does not allow model '" + id.model() + "'"));
            return result;
        }
        if (status == Status.STOPPING) {
            result.completeExceptionally(new InferenceException.Unavailable("replica " + entityId + " is stopping"));
            return result;
        }
        ModelSignature.Prepared prepared = validated;
        if (prepared == null) {
            try {
                prepared = model.signature().prepare(request.inputs(), request.outputs(), place.maxRequestBytes());
            } catch (InferenceException e) {
                result.completeExceptionally(e);
                return result;
            }
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(request.timeoutMillis());
        batcher.submit(prepared, deadline, new ResultSink() {
            @Override
            public void success(List<NamedTensor> outputs, int batchRows, long queueNanos) {
                served.served(request.residency(), island);
                place.drift().observe(id.model(), id.version(), request.inputs(), outputs);
                result.complete(new InferenceResponse(request.id(), id.model(), id.version(), outputs,
                        place.node(), place.region(), batchRows, island, request.trace()));
            }

            @Override
            public void failure(InferenceError error) {
                result.completeExceptionally(error.toException());
            }
        });
        return result;
    }
}
