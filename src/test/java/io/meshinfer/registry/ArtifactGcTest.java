package io.meshinfer.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.runtime.LoadedModel;
import io.meshinfer.runtime.ModelRuntime;
import io.meshinfer.runtime.TestModelFiles;
import io.meshinfer.testmodels.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The artifact garbage collector on a real store and real sessions: it deletes old files
 * nothing needs and keeps those the catalog references, a session holds, or that are
 * younger than the grace; it does nothing while the catalog is not known.
 */
class ArtifactGcTest {
    private static final Duration GRACE = Duration.ofHours(1);
    private static final Instant NOW = Instant.parse("2030-01-01T12:00:00Z");

    @TempDir
    Path dir;

    private final ModelRuntime runtime = new ModelRuntime(TestModelFiles.settings());

    @AfterEach
    void close() {
        runtime.close();
    }

    private static void age(Path file, Duration age) throws Exception {
        Files.setLastModifiedTime(file, FileTime.from(NOW.minus(age)));
    }

    private static Path artifact(ArtifactStore store, String sha) {
        return store.directory().resolve(sha + ".onnx");
    }

    private static ModelManifest manifest(String version, String sha) {
        return new ModelManifest("m", version, sha, 1, null, 1, null, null, null, "n1", 0, "test", null, 0, null);
    }

    @Test
    void deletesOnlyOldArtifactsNothingNeedsAndAbandonedPartials() throws Exception {
        ArtifactStore store = new ArtifactStore(dir);
        String referenced = store.put(TestModels.mlp());
        String held = store.put(TestModels.twoInTwoOut());
        String unreferenced = store.put(TestModels.noBatchAxis());
        String fresh = store.put(TestModels.scalarInput());
        for (String sha : List.of(referenced, held, unreferenced)) {
            age(artifact(store, sha), Duration.ofHours(2));
        }
        age(artifact(store, fresh), Duration.ofMinutes(10));
        Path oldPart = Files.write(store.newIncomingFile(), new byte[] {1, 2, 3});
        age(oldPart, Duration.ofHours(3));
        Path freshPart = Files.write(store.newIncomingFile(), new byte[] {4});
        age(freshPart, Duration.ofSeconds(5));
        Path foreign = Files.write(store.directory().resolve("notes.txt"), new byte[] {5});
        age(foreign, Duration.ofDays(3));

        CatalogView catalog = new CatalogView();
        catalog.update(Map.of("m", ModelEntry.empty("m").withVersion(manifest("1", referenced))));
        LoadedModel session = runtime.acquire(held, artifact(store, held));
        AtomicBoolean known = new AtomicBoolean(false);
        ArtifactGc gc = new ArtifactGc(store, catalog, () -> runtime.loadedSessions().keySet(), known::get, GRACE,
                Clock.fixed(NOW, java.time.ZoneOffset.UTC));

        ArtifactGc.Sweep skipped = gc.sweep();
        assertFalse(skipped.ran(), "no sweep before the node has read the catalog from its cluster");
        assertTrue(store.contains(unreferenced));
        assertTrue(Files.exists(oldPart));

        known.set(true);
        ArtifactGc.Sweep sweep = gc.sweep();
        assertTrue(sweep.ran());
        assertEquals(List.of(unreferenced), sweep.artifacts());
        assertEquals(List.of(oldPart.getFileName().toString()), sweep.partials());
        assertFalse(store.contains(unreferenced));
        assertTrue(store.contains(referenced), "referenced by a deployed version");
        assertTrue(store.contains(held), "held by a loaded session");
        assertTrue(store.contains(fresh), "younger than the grace: an upload may be waiting for its catalog write");
        assertTrue(Files.exists(freshPart));
        assertTrue(Files.exists(foreign), "files that are not artifacts are left alone");

        runtime.release(session);
        catalog.update(Map.of());
        assertEquals(Set.of(referenced, held), Set.copyOf(gc.sweep().artifacts()),
                "once undeployed and released, old artifacts go");
    }

    @Test
    void committingBytesAlreadyStoredRenewsTheirGrace() throws Exception {
        ArtifactStore store = new ArtifactStore(dir);
        String sha = store.put(TestModels.mlp());
        age(artifact(store, sha), Duration.ofDays(1));
        assertEquals(sha, store.put(TestModels.mlp()), "a redeploy of the same bytes");
        ArtifactGc gc = new ArtifactGc(store, new CatalogView(), Set::of, () -> true, GRACE, Clock.systemUTC());
        assertEquals(List.of(), gc.sweep().artifacts());
        assertTrue(store.contains(sha));
    }
}
