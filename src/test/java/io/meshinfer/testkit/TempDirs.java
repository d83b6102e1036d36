package io.meshinfer.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Removes the temporary directories tests make, so that test runs do not fill the disk. */
public final class TempDirs {
    private TempDirs() {
    }

    /**
     * Deletes {@code dir} and everything under it, as far as it can: cleaning up must not fail
     * the test that made the directory, so what cannot be deleted is reported and left.
     */
    public static void delete(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException | RuntimeException e) {
            System.err.println("left the test directory " + dir + ": " + e);
        }
    }
}
