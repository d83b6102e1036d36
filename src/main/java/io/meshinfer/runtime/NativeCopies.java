package io.meshinfer.runtime;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes the directory a Java binding copied its native libraries to, once they are loaded
 * and mapped into the process (see {@link OrtNative} and the node's {@code LmdbNative}).
 */
public final class NativeCopies {
    private static final Logger log = LoggerFactory.getLogger(NativeCopies.class);

    private NativeCopies() {
    }

    /**
     * Deletes the regular files in {@code dir}, then {@code dir}; best effort: what cannot be
     * removed stays marked for deletion at exit, as the binding left it.
     *
     * @param what the libraries, as the log names them ("ONNX Runtime's native libraries")
     */
    public static void remove(Path dir, String what) {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                if (Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
                    Files.delete(f);
                }
            }
            Files.delete(dir);
            log.debug("removed the copies of {} in {}", what, dir);
        } catch (IOException | RuntimeException e) {
            log.debug("the copies of {} in {} stay until exit: {}", what, dir, e.toString());
        }
    }
}
