package io.meshinfer.registry;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Content-addressed model files in a node's data directory: {@code <dir>/<sha256>.onnx}.
 * A file enters the store only through {@link #commit}, which hashes it and moves it in
 * atomically, so a partially written or tampered file never has a valid name; files are
 * hashed again by {@link #verifiedPath} before they are loaded. Survives restarts.
 * Thread-safe (the file system arbitrates; a hash can be committed twice harmlessly).
 */
public final class ArtifactStore {
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

    private final Path dir;
    private final Path incoming;

    public ArtifactStore(Path dataDir) throws IOException {
        this.dir = dataDir.resolve("artifacts");
        this.incoming = dir.resolve("incoming");
        Files.createDirectories(incoming);
    }

    public Path directory() {
        return dir;
    }

    /** Where uploads and fetches are written before {@link #commit}: {@code <dir>/incoming/*.part}. */
    public Path incomingDirectory() {
        return incoming;
    }

    /** A fresh temporary file to write an upload into before {@link #commit}. */
    public Path newIncomingFile() {
        return incoming.resolve(UUID.randomUUID() + ".part");
    }

    /** Hashes {@code file}, moves it into the store and returns its sha256. */
    public String commit(Path file) throws IOException {
        String sha = sha256(file);
        Path target = fileFor(sha);
        if (Files.exists(target)) {
            Files.delete(file);
            // a fresh upload of bytes already here: the garbage collector's grace starts again
            Files.setLastModifiedTime(target, java.nio.file.attribute.FileTime.from(java.time.Instant.now()));
            return sha;
        }
        try {
            Files.move(file, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(file, target, StandardCopyOption.REPLACE_EXISTING);
        }
        return sha;
    }

    /** Stores {@code bytes} and returns their sha256. */
    public String put(byte[] bytes) throws IOException {
        Path tmp = newIncomingFile();
        Files.write(tmp, bytes);
        return commit(tmp);
    }

    public boolean contains(String sha256) {
        return isHash(sha256) && Files.isRegularFile(fileFor(sha256));
    }

    /**
     * The stored file for {@code sha256}, after checking that its content still hashes to
     * that name; empty if absent. A file whose content no longer matches is deleted.
     */
    public Optional<Path> verifiedPath(String sha256) throws IOException {
        if (!contains(sha256)) {
            return Optional.empty();
        }
        Path p = fileFor(sha256);
        if (!sha256(p).equals(sha256)) {
            Files.deleteIfExists(p);
            return Optional.empty();
        }
        return Optional.of(p);
    }

    public void delete(String sha256) throws IOException {
        if (isHash(sha256)) {
            Files.deleteIfExists(fileFor(sha256));
        }
    }

    private Path fileFor(String sha256) {
        if (!isHash(sha256)) {
            throw new IllegalArgumentException("not a sha256: " + sha256);
        }
        return dir.resolve(sha256 + ".onnx");
    }

    public static boolean isHash(String s) {
        return s != null && SHA256.matcher(s).matches();
    }

    /** The lowercase hex sha256 of a file's content. */
    public static String sha256(Path file) throws IOException {
        MessageDigest md = newDigest();
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), md)) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
        }
        return HexFormat.of().formatHex(md.digest());
    }

    public static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(newDigest().digest(bytes));
    }

    private static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }
}
