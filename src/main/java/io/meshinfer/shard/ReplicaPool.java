package io.meshinfer.shard;

import io.meshinfer.batching.BatchPolicy;
import io.meshinfer.batching.Batcher;
import io.meshinfer.registry.ArtifactFetcher;
import io.meshinfer.registry.Attestor;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.runtime.LoadedModel;
import io.meshinfer.runtime.ModelLoadException;
import io.meshinfer.runtime.ModelRuntime;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.apache.pekko.stream.Materializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The replicas this process serves: for each entity id, the loaded model and its
 * batcher. It belongs to the process, not to a cluster incarnation: when the cluster
 * downs this node, its replicas are orphaned rather than stopped, so the node keeps
 * serving local requests in island mode and a replica allocated here again after the
 * rejoin is warm at once. Orphans that are not re-attached are released by the owner.
 * A freshly loaded session is checked against its version's golden vectors before its
 * batcher starts; one that deviates beyond their tolerance is released and never serves.
 *
 * <p>Thread-safe. A missing model file is fetched from peers on Pekko's threads; only the
 * session load then runs on the blocking executor. Batchers run on the process's
 * materializer, which outlives every cluster incarnation.
 */
public final class ReplicaPool implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ReplicaPool.class);

    private final ModelRuntime runtime;
    private final ArtifactFetcher fetcher;
    private final Materializer materializer;
    private final Executor blocking;
    private final String batcherDispatcher;
    private final BatchPolicy defaults;
    private final PooledReplica.Place place;
    private final Attestor attestor;
    private final Map<String, Slot> slots = new ConcurrentHashMap<>();

    /** A replica being loaded, or loaded. */
    private static final class Slot {
        final CompletableFuture<PooledReplica> ready;

        Slot(CompletableFuture<PooledReplica> ready) {
            this.ready = ready;
        }
    }

    /**
     * @param attestor checks each loaded session against its version's golden vectors
     *     before the replica serves, and keeps this process's results across memberships
     * @param batcherDispatcher where the batchers' streams run
     *     ({@code meshinfer.batching.stream-dispatcher}), or null for the materializer's default
     */
    public ReplicaPool(ModelRuntime runtime, ArtifactFetcher fetcher, Materializer materializer, Executor blocking,
                       BatchPolicy defaults, PooledReplica.Place place, Attestor attestor, String batcherDispatcher) {
        this.runtime = runtime;
        this.fetcher = fetcher;
        this.materializer = materializer;
        this.blocking = blocking;
        this.batcherDispatcher = batcherDispatcher;
        this.defaults = defaults;
        this.place = place;
        this.attestor = attestor;
    }

    public PooledReplica.Place place() {
        return place;
    }

    public BatchPolicy defaults() {
        return defaults;
    }

    public Attestor attestor() {
        return attestor;
    }

    /**
     * The replica {@code entityId} for {@code manifest}, loaded if this process does not
     * hold it yet (the artifact is fetched from {@code peers} when missing). An orphan of
     * an earlier incarnation is adopted as it is.
     */
    public CompletionStage<PooledReplica> attach(String entityId, ModelManifest manifest,
                                                 Supplier<List<String>> peers) {
        Slot slot = slots.compute(entityId, (id, existing) -> {
            if (existing != null && !existing.ready.isCompletedExceptionally()) {
                PooledReplica r = existing.ready.getNow(null);
                if (r == null || (r.status() != PooledReplica.Status.STOPPING
                        && r.manifest().sha256().equals(manifest.sha256()))) {
                    return existing;
                }
            }
            // the transfer (if the file is not here) streams on Pekko's threads; only the load
            // itself takes a runtime thread, so a long fetch does not halve a node's serving
            CompletableFuture<PooledReplica> f = fetcher.fetch(manifest.sha256(), manifest.sizeBytes(), peers.get())
                    .toCompletableFuture()
                    .thenApplyAsync(file -> load(entityId, manifest, file), blocking);
            return new Slot(f);
        });
        return slot.ready.thenApply(r -> {
            r.markAttached();
            return r;
        });
    }

    private PooledReplica load(String entityId, ModelManifest manifest, Path file) {
        try {
            LoadedModel model = runtime.acquire(manifest.sha256(), file);
            try {
                attestor.attest(manifest, model); // a session that deviates from the golden vectors never serves
                BatchPolicy policy = defaults.withOverrides(manifest.maxBatch(), manifest.maxDelayMillis());
                Batcher batcher = Batcher.start(entityId, model, policy, blocking, materializer, batcherDispatcher);
                return new PooledReplica(entityId, manifest, model, batcher, place);
            } catch (ModelLoadException | RuntimeException e) {
                runtime.release(model);
                throw e;
            }
        } catch (ModelLoadException e) {
            throw new CompletionException(e);
        }
    }

    /**
     * The entity {@code entityId} stopped. With {@code release} its requests are drained
     * and its session released; without, it stays loaded as an orphan.
     */
    public CompletionStage<Void> detach(String entityId, boolean release) {
        Slot slot = slots.get(entityId);
        if (slot == null) {
            return CompletableFuture.completedFuture(null);
        }
        if (!release) {
            slot.ready.thenAccept(PooledReplica::markOrphaned);
            return CompletableFuture.completedFuture(null);
        }
        slots.remove(entityId, slot);
        return slot.ready.handle((r, e) -> r).thenCompose(r -> r == null
                ? CompletableFuture.completedFuture(null)
                : stop(r));
    }

    private CompletionStage<Void> stop(PooledReplica r) {
        r.markStopping();
        return r.batcher().drain().handle((done, e) -> {
            runtime.release(r.model());
            log.info("released replica {}", r.entityId());
            return null;
        });
    }

    /** The replica if it is loaded and serving (attached or orphaned). */
    public Optional<PooledReplica> ready(String entityId) {
        Slot slot = slots.get(entityId);
        if (slot == null || slot.ready.isCompletedExceptionally()) {
            return Optional.empty(); // a failed load (e.g. a failed attestation) is not a replica
        }
        PooledReplica r = slot.ready.getNow(null);
        return r != null && r.serving() ? Optional.of(r) : Optional.empty();
    }

    /** Every loaded replica, sorted by entity id. */
    public List<PooledReplica> all() {
        Map<String, PooledReplica> out = new TreeMap<>();
        slots.forEach((id, s) -> {
            PooledReplica r = s.ready.isCompletedExceptionally() ? null : s.ready.getNow(null);
            if (r != null) {
                out.put(id, r);
            }
        });
        return new ArrayList<>(out.values());
    }

    /** Loaded, serving replicas of one model version. */
    public List<PooledReplica> servingVersion(String model, String version) {
        List<PooledReplica> out = new ArrayList<>();
        for (PooledReplica r : all()) {
            if (r.serving() && r.id().model().equals(model) && r.id().version().equals(version)) {
                out.add(r);
            }
        }
        return out;
    }

    /** Drains and releases every replica matching {@code p} (e.g. stale orphans). */
    public void releaseIf(Predicate<PooledReplica> p) {
        for (PooledReplica r : all()) {
            if (p.test(r)) {
                log.info("releasing replica {} ({})", r.entityId(), r.status());
                detach(r.entityId(), true);
            }
        }
    }

    /** Drains and releases everything, waiting at most {@code timeoutMillis}. */
    @Override
    public void close() {
        List<CompletableFuture<Void>> stopping = new ArrayList<>();
        for (String id : List.copyOf(slots.keySet())) {
            stopping.add(detach(id, true).toCompletableFuture());
        }
        try {
            CompletableFuture.allOf(stopping.toArray(new CompletableFuture[0])).get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            log.warn("not every replica drained within 30 s: {}", e.toString());
        }
    }
}
