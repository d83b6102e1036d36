package io.meshinfer.registry;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings a model artifact this node lacks from a peer that has it: streams
 * {@code GET <peer>/v1/artifacts/<sha256>} into the store's incoming directory, refuses
 * more bytes than the manifest's size, and commits the file only if its content hashes
 * to the expected sha256; otherwise it tries the next peer. Blocking: call it on the
 * blocking executor. Thread-safe.
 */
public final class ArtifactFetcher {
    private static final Logger log = LoggerFactory.getLogger(ArtifactFetcher.class);

    private final ArtifactStore store;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
    private final Duration timeout;

    public ArtifactFetcher(ArtifactStore store, Duration timeout) {
        this.store = store;
        this.timeout = timeout;
    }

    /**
     * The verified local path of {@code sha256}, fetched from the first of {@code peers}
     * (HTTP base URLs) that serves it intact when it is not already here.
     *
     * @throws IOException naming every peer that failed, if none did
     */
    public Path ensure(String sha256, long sizeBytes, List<String> peers) throws IOException {
        var local = store.verifiedPath(sha256);
        if (local.isPresent()) {
            return local.get();
        }
        List<String> failures = new ArrayList<>();
        for (String peer : peers) {
            Path tmp = store.newIncomingFile();
            try {
                HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(
                                URI.create(peer + "/v1/artifacts/" + sha256)).timeout(timeout).GET().build(),
                        HttpResponse.BodyHandlers.ofInputStream());
                try (InputStream in = r.body()) {
                    if (r.statusCode() != 200) {
                        failures.add(peer + ": HTTP " + r.statusCode());
                        continue;
                    }
                    copyAtMost(in, tmp, sizeBytes);
                }
                String got = store.commit(tmp);
                if (got.equals(sha256)) {
                    log.info("fetched artifact {} ({} bytes) from {}", sha256, sizeBytes, peer);
                    return store.verifiedPath(sha256).orElseThrow(() -> new IOException("artifact vanished"));
                }
                store.delete(got);
                failures.add(peer + ": content hashes to " + got);
            } catch (IOException e) {
                failures.add(peer + ": " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while fetching artifact " + sha256, e);
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
        throw new IOException("the artifact " + sha256 + " is not on this node and no peer served it"
                + (failures.isEmpty() ? " (no peers known)" : ": " + String.join("; ", failures)));
    }

    private static void copyAtMost(InputStream in, Path target, long max) throws IOException {
        byte[] buf = new byte[64 * 1024];
        long total = 0;
        try (OutputStream out = Files.newOutputStream(target)) {
            for (int n; (n = in.read(buf)) >= 0; ) {
                total += n;
                if (total > max) {
                    throw new IOException("peer sent more than the artifact's " + max + " bytes");
                }
                out.write(buf, 0, n);
            }
        }
    }
}
