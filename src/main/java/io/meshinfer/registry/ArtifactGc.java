package io.meshinfer.registry;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes what the {@link ArtifactStore} no longer needs: model files that no manifest in
 * the catalog references and no loaded replica (or session) holds, and abandoned partial
 * uploads or fetches ({@code incoming/*.part}). A file is deleted only when it is older than
 * the grace period, so an upload waiting for its catalog write survives (committing bytes
 * already stored renews the file's time), and only while {@code catalogKnown} says this node
 * has read the catalog from its cluster: a node in island mode, or one that has not synced
 * yet, might see a catalog missing versions that are deployed.
 *
 * <p>Blocking (file system): run {@link #sweep} on a dispatcher for blocking work. Not
 * meant to run concurrently with itself.
 */
public final class ArtifactGc {
    private static final Logger log = LoggerFactory.getLogger(ArtifactGc.class);
    private static final String SUFFIX = ".onnx";

    private final ArtifactStore store;
    private final CatalogView catalog;
    private final Supplier<Set<String>> held;
    private final BooleanSupplier catalogKnown;
    private final Duration grace;
    private final Clock clock;

    /** What one sweep deleted (sha256 of artifacts, names of partial files), or that it did not run. */
    public record Sweep(boolean ran, List<String> artifacts, List<String> partials) {
    }

    /**
     * @param held sha256 of every artifact a replica or session on this node holds
     * @param catalogKnown whether this node has read the catalog from its cluster now
     * @param grace the age below which no file is deleted
     */
    public ArtifactGc(ArtifactStore store, CatalogView catalog, Supplier<Set<String>> held,
                      BooleanSupplier catalogKnown, Duration grace, Clock clock) {
        this.store = store;
        this.catalog = catalog;
        this.held = held;
        this.catalogKnown = catalogKnown;
        this.grace = grace;
        this.clock = clock;
    }

    /** One pass over the store; never throws (failures are logged). */
    public Sweep sweep() {
        if (!catalogKnown.getAsBoolean()) {
            log.debug("artifact gc skipped: this node has not read the catalog from its cluster");
            return new Sweep(false, List.of(), List.of());
        }
        try {
            Instant cutoff = clock.instant().minus(grace);
            List<Path> candidates = list(store.directory(), "*" + SUFFIX);
            // read what is needed after listing: a file committed since is not a candidate anyway
            Set<String> keep = new HashSet<>(held.get());
            catalog.manifests().forEach(m -> keep.add(m.sha256()));
            List<String> artifacts = new ArrayList<>();
            for (Path p : candidates) {
                String name = p.getFileName().toString();
                String sha = name.substring(0, name.length() - SUFFIX.length());
                if (ArtifactStore.isHash(sha) && !keep.contains(sha) && olderThan(p, cutoff)
                        && deleted(p, "artifact " + sha, "referenced by no deployed version, held by no replica")) {
                    artifacts.add(sha);
                }
            }
            List<String> partials = new ArrayList<>();
            for (Path p : list(store.incomingDirectory(), "*.part")) {
                if (olderThan(p, cutoff) && deleted(p, "partial file " + p.getFileName(), "abandoned")) {
                    partials.add(p.getFileName().toString());
                }
            }
            return new Sweep(true, artifacts, partials);
        } catch (IOException | RuntimeException e) {
            log.warn("artifact gc failed: {}", e.toString());
            return new Sweep(false, List.of(), List.of());
        }
    }

    private static List<Path> list(Path dir, String glob) throws IOException {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, glob)) {
            for (Path p : files) {
                if (Files.isRegularFile(p)) {
                    out.add(p);
                }
            }
        }
        return out;
    }

    private static boolean olderThan(Path p, Instant cutoff) throws IOException {
        try {
            return Files.getLastModifiedTime(p).toInstant().isBefore(cutoff);
        } catch (NoSuchFileException gone) {
            return false;
        }
    }

    private boolean deleted(Path p, String what, String why) {
        try {
            long size = Files.size(p);
            if (Files.deleteIfExists(p)) {
                log.info("artifact gc deleted {} ({} bytes, older than {}): {}", what, size, grace, why);
                return true;
            }
        } catch (NoSuchFileException gone) {
            return false;
        } catch (IOException e) {
            log.warn("artifact gc could not delete {}: {}", p, e.toString());
        }
        return false;
    }
}
