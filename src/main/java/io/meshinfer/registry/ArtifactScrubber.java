package io.meshinfer.registry;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Periodic verification of the artifact store: re-hashes every stored artifact, one at a
 * time on the blocking executor, deletes a file whose content no longer matches its name
 * (silent disk corruption, tampering) and, if a manifest in the catalog still references
 * it, fetches it again from a peer so the node can load it when it must. Files that no
 * manifest references are left alone when intact (deleting those is garbage collection,
 * not scrubbing). At most one pass runs at a time: asking for a pass while one runs joins
 * it. What a pass found is logged and returned; a pass never fails as a whole, each file's
 * outcome is reported on its own.
 */
public final class ArtifactScrubber {
    private static final Logger log = LoggerFactory.getLogger(ArtifactScrubber.class);

    private final ArtifactStore store;
    private final ArtifactFetcher fetcher;
    private final CatalogView catalog;
    private final Supplier<List<String>> peers;
    private final Executor blocking;
    private final AtomicReference<CompletableFuture<Result>> running = new AtomicReference<>();

    /** What one pass found: files checked, corrupt ones (deleted), and which of those came back. */
    public record Result(int checked, List<String> corrupt, List<String> refetched, List<String> refetchFailed) {
        public Result {
            corrupt = List.copyOf(corrupt);
            refetched = List.copyOf(refetched);
            refetchFailed = List.copyOf(refetchFailed);
        }
    }

    /**
     * @param peers the HTTP base URLs of peers to fetch a corrupt artifact from again
     * @param blocking where files are hashed (one at a time)
     */
    public ArtifactScrubber(ArtifactStore store, ArtifactFetcher fetcher, CatalogView catalog,
                            Supplier<List<String>> peers, Executor blocking) {
        this.store = store;
        this.fetcher = fetcher;
        this.catalog = catalog;
        this.peers = peers;
        this.blocking = blocking;
    }

    /** Runs one pass (or joins the one running) and completes with what it found. */
    public CompletionStage<Result> scrub() {
        CompletableFuture<Result> mine = new CompletableFuture<>();
        CompletableFuture<Result> current = running.compareAndExchange(null, mine);
        if (current != null) {
            return current;
        }
        Pass pass = new Pass();
        CompletableFuture.supplyAsync(this::stored, blocking)
                .thenCompose(shas -> pass.next(shas, 0))
                .whenComplete((v, error) -> {
                    running.set(null);
                    if (error != null) {
                        log.warn("artifact scrub stopped after {} file(s): {}", pass.checked, error.toString());
                    }
                    Result r = pass.result();
                    if (!r.corrupt().isEmpty()) {
                        log.warn("artifact scrub: {} file(s) checked, corrupt and deleted: {}, fetched again: {},"
                                + " not fetched again: {}", r.checked(), r.corrupt(), r.refetched(),
                                r.refetchFailed());
                    } else {
                        log.info("artifact scrub: {} file(s) checked, all intact", r.checked());
                    }
                    mine.complete(r);
                });
        return mine;
    }

    private List<String> stored() {
        try {
            return store.list();
        } catch (IOException e) {
            throw new CompletionException(e);
        }
    }

    /** The state of one pass, touched by one step at a time. */
    private final class Pass {
        int checked;
        final List<String> corrupt = new ArrayList<>();
        final List<String> refetched = new ArrayList<>();
        final List<String> refetchFailed = new ArrayList<>();

        CompletionStage<Void> next(List<String> shas, int index) {
            if (index >= shas.size()) {
                return CompletableFuture.completedFuture(null);
            }
            String sha = shas.get(index);
            return CompletableFuture.supplyAsync(() -> check(sha), blocking)
                    .thenCompose(found -> found == ArtifactStore.Check.CORRUPT ? repair(sha)
                            : CompletableFuture.<Void>completedFuture(null))
                    .thenCompose(v -> next(shas, index + 1));
        }

        private ArtifactStore.Check check(String sha) {
            try {
                ArtifactStore.Check found = store.check(sha);
                if (found != ArtifactStore.Check.ABSENT) {
                    checked++;
                }
                return found;
            } catch (IOException e) {
                log.warn("artifact scrub cannot read {}: {}", sha, e.getMessage());
                return ArtifactStore.Check.ABSENT;
            }
        }

        private CompletionStage<Void> repair(String sha) {
            corrupt.add(sha);
            Optional<ModelManifest> referencing = catalog.manifests().stream()
                    .filter(m -> m.sha256().equals(sha)).findFirst();
            if (referencing.isEmpty()) {
                log.info("corrupt artifact {} is not referenced by any deployed version: not fetched again", sha);
                return CompletableFuture.completedFuture(null);
            }
            ModelManifest m = referencing.get();
            log.info("fetching corrupt artifact {} ({}) again from a peer", sha, m.key());
            return fetcher.fetch(sha, m.sizeBytes(), peers.get()).handle((path, error) -> {
                if (error == null) {
                    refetched.add(sha);
                } else {
                    refetchFailed.add(sha);
                    log.warn("could not fetch corrupt artifact {} again: {}", sha, error.getMessage());
                }
                return null;
            });
        }

        Result result() {
            return new Result(checked, corrupt, refetched, refetchFailed);
        }
    }
}
