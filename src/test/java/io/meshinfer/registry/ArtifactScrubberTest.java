package io.meshinfer.registry;

import static io.meshinfer.registry.PeerServer.Behaviour.GOOD;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.meshinfer.runtime.ModelSignature;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The scrubber over a real store: intact files stay, a corrupt file is deleted, and fetched
 * again from a peer (a real pekko-http server on 127.0.0.1) only when a deployed version
 * still uses it.
 */
class ArtifactScrubberTest {
    private static final ActorTestKit TESTKIT = ActorTestKit.create("artifact-scrubber");
    private static final ExecutorService BLOCKING = Executors.newSingleThreadExecutor();
    private static PeerServer peers;

    @TempDir
    Path dataDir;

    @BeforeAll
    static void start() throws Exception {
        peers = new PeerServer(TESTKIT.system());
    }

    @AfterAll
    static void stop() throws Exception {
        peers.close();
        BLOCKING.shutdownNow();
        TESTKIT.shutdownTestKit();
    }

    private static byte[] bytes(long seed) {
        byte[] b = new byte[50_000];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static ModelManifest manifest(String version, String sha, long size) {
        return new ModelManifest("scrubbed", version, sha, size, new ModelSignature(List.of(), List.of(), ""), 1,
                Set.of(), null, null, "origin", System.currentTimeMillis(), "test", null, 0, null);
    }

    private static void corrupt(ArtifactStore store, String sha) throws Exception {
        Path file = store.directory().resolve(sha + ".onnx");
        byte[] b = Files.readAllBytes(file);
        b[b.length / 2] ^= (byte) 0xff;
        Files.write(file, b);
    }

    @Test
    void corruptArtifactsAreDeletedAndThoseStillDeployedFetchedAgain() throws Exception {
        ArtifactStore store = new ArtifactStore(dataDir);
        byte[] intact = bytes(1);
        byte[] deployed = bytes(2);
        byte[] orphan = bytes(3);
        String intactSha = store.put(intact);
        String deployedSha = store.put(deployed);
        String orphanSha = store.put(orphan);
        peers.serve(deployed);
        corrupt(store, deployedSha);
        corrupt(store, orphanSha);
        CatalogView catalog = new CatalogView();
        catalog.update(Map.of("scrubbed", ModelEntry.empty("scrubbed")
                .withVersion(manifest("1", intactSha, intact.length))
                .withVersion(manifest("2", deployedSha, deployed.length))));
        ArtifactFetcher fetcher = new ArtifactFetcher(store, TESTKIT.system(), new ArtifactSettings(
                Duration.ofSeconds(20), Duration.ofSeconds(5), Duration.ofSeconds(2), 1, Duration.ofSeconds(5),
                Optional.of(Duration.ofMinutes(10))), PeerRanking.NONE);
        ArtifactScrubber scrubber = new ArtifactScrubber(store, fetcher, catalog,
                () -> List.of(peers.peer(GOOD)), BLOCKING);

        ArtifactScrubber.Result r = scrubber.scrub().toCompletableFuture().get(30, TimeUnit.SECONDS);

        assertEquals(3, r.checked());
        assertEquals(List.of(deployedSha, orphanSha).stream().sorted().toList(), r.corrupt());
        assertEquals(List.of(deployedSha), r.refetched());
        assertEquals(List.of(), r.refetchFailed());
        assertEquals(List.of(intactSha, deployedSha).stream().sorted().toList(), store.list());
        assertArrayEquals(deployed, Files.readAllBytes(store.verifiedPath(deployedSha).orElseThrow()));
        assertArrayEquals(intact, Files.readAllBytes(store.verifiedPath(intactSha).orElseThrow()));

        ArtifactScrubber.Result again = scrubber.scrub().toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertEquals(new ArtifactScrubber.Result(2, List.of(), List.of(), List.of()), again);
    }
}
