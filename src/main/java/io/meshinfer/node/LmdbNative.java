package io.meshinfer.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * LMDB's native library for Pekko's durable distributed data (the node's catalog store),
 * loaded without leaving its copy on disk.
 *
 * <p>lmdbjava (0.9) copies its embedded {@code liblmdb} into a new file under
 * {@code java.io.tmpdir} when it loads, and only marks it for deletion at exit, which most node
 * exits are not (see {@link io.meshinfer.runtime.OrtNative}, which does the same for ONNX
 * Runtime's 22 MB). lmdbjava keeps no record of that file, but it takes the directory from the
 * system property {@value #EXTRACT_DIR}. So the first node of a process loads it into a
 * directory of its own, then removes the directory: the library stays mapped in the process.
 *
 * <p>Where the user has set {@value #EXTRACT_DIR} or {@code lmdbjava.native.lib}, lmdbjava is
 * left to do as told. A library that fails to load here is logged with its cause, as the JVM
 * will not give the cause again when Pekko's durable store uses the class.
 */
final class LmdbNative {
    private static final Logger log = LoggerFactory.getLogger(LmdbNative.class);
    static final String EXTRACT_DIR = "lmdbjava.extract.dir";
    private static final Object LOCK = new Object();
    private static boolean loaded;

    private LmdbNative() {
    }

    /**
     * Loads LMDB once per process, removing its copy. Returns the directory the library was
     * copied to and that was then removed, when this call did the loading.
     */
    static Optional<Path> load() {
        synchronized (LOCK) {
            if (loaded) {
                return Optional.empty();
            }
            loaded = true;
            if (System.getProperty(EXTRACT_DIR) != null || System.getProperty("lmdbjava.native.lib") != null) {
                return Optional.empty();
            }
            Path dir;
            try {
                dir = Files.createTempDirectory("meshinfer-lmdbjava");
            } catch (IOException | RuntimeException e) {
                log.debug("LMDB's native library stays in the temporary directory until exit: {}", e.toString());
                return Optional.empty();
            }
            System.setProperty(EXTRACT_DIR, dir.toString());
            try {
                Class.forName("org.lmdbjava.Library", true, LmdbNative.class.getClassLoader());
            } catch (ClassNotFoundException e) {
                log.debug("lmdbjava is not on the class path: {}", e.toString());
            } catch (LinkageError e) {
                log.warn("LMDB's native library failed to load; Pekko's durable store cannot open", e);
            } finally {
                System.clearProperty(EXTRACT_DIR);
                io.meshinfer.runtime.NativeCopies.remove(dir, "LMDB's native library");
            }
            return Optional.of(dir);
        }
    }
}
