package io.meshinfer.runtime;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Writes test models to files, as the artifact store would hold them, and names them by
 * their sha256. Shared by the runtime and batching tests.
 */
public final class TestModelFiles {
    private TestModelFiles() {
    }

    /** Writes {@code bytes} to {@code dir/fileName} and returns the path. */
    public static Path write(Path dir, String fileName, byte[] bytes) {
        try {
            return Files.write(dir.resolve(fileName), bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The lowercase hex sha256 of {@code bytes}, the key the runtime shares sessions by. */
    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Settings for tests: one intra-op thread, no spinning, full optimization, 64 MiB limit. */
    public static RuntimeSettings settings() {
        return new RuntimeSettings(1, 1, false, "all", 64L << 20);
    }
}
