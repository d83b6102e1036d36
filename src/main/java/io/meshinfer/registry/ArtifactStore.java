package io.meshinfer.registry;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Content-addressed model files in a node's data directory: {@code <dir>/<sha256>.onnx}.
 * A file enters the store only through {@link #commit} (which hashes it) or
 * {@link #commitAs} (for a file hashed while it was written), and is moved in atomically,
 * so a partially written file never has a valid name; files are hashed again by
 * {@link #verifiedPath} before they are loaded, and a file whose content no longer
 * matches its name (disk corruption, tampering) is deleted there and logged. Survives
 * restarts. Thread-safe (the file system arbitrates; a hash can be committed twice
 * harmlessly).
 */
public final class ArtifactStore {
    private static final Logger log = LoggerFactory.getLogger(ArtifactStore.class);
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final String SUFFIX = ".onnx";

    private final Path dir;
    private final Path incoming;

    /** What {@link #check} found. */
    public enum Check {
        /** The file is here and hashes to its name. */
        INTACT,
        /** The file was here but hashed to something else; it has been deleted. */
        CORRUPT,
        /** No such file. */
        ABSENT
    }

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
        moveIn(file, sha);
        return sha;
    }

    /**
     * Moves {@code file} into the store as {@code sha256} without hashing it again: the
     * caller hashed exactly these bytes as it wrote them.
     */
    Path commitAs(Path file, String sha256) throws IOException {
        moveIn(file, sha256);
        return fileFor(sha256);
    }

    private void moveIn(Path file, String sha) throws IOException {
        Path target = fileFor(sha);
        if (Files.exists(target)) {
            Files.delete(file);
            // a fresh upload of bytes already here: the garbage collector's grace starts again
            Files.setLastModifiedTime(target, java.nio.file.attribute.FileTime.from(java.time.Instant.now()));
            return;
        }
        try {
            Files.move(file, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(file, target, StandardCopyOption.REPLACE_EXISTING);
        }
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

    /** The sha256 of every stored file (by name; not verified), sorted. */
    public List<String> list() throws IOException {
        List<String> out = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
            for (Path p : files) {
                String name = p.getFileName().toString();
                String sha = name.substring(0, name.length() - SUFFIX.length());
                if (isHash(sha) && Files.isRegularFile(p)) {
                    out.add(sha);
                }
            }
        }
        out.sort(null);
        return out;
    }

    /**
     * Hashes the stored file for {@code sha256}; if its content no longer matches its name,
     * deletes it (logging the corruption) so that it is fetched again rather than loaded.
     */
    public Check check(String sha256) throws IOException {
        if (!contains(sha256)) {
            return Check.ABSENT;
        }
        Path p = fileFor(sha256);
        String actual;
        try {
            actual = sha256(p);
        } catch (java.nio.file.NoSuchFileException e) {
            return Check.ABSENT; // deleted meanwhile
        }
        if (actual.equals(sha256)) {
            return Check.INTACT;
        }
        long size = Files.size(p);
        Files.deleteIfExists(p);
        log.warn("corrupt artifact {}: its content ({} bytes) hashes to {}; deleted it", sha256, size, actual);
        return Check.CORRUPT;
    }

    /**
     * The stored file for {@code sha256}, after checking that its content still hashes to
     * that name; empty if absent. A file whose content no longer matches is deleted.
     */
    public Optional<Path> verifiedPath(String sha256) throws IOException {
        return check(sha256) == Check.INTACT ? Optional.of(fileFor(sha256)) : Optional.empty();
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
        return dir.resolve(sha256 + SUFFIX);
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

    static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }
}
