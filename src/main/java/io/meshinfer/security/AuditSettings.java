package io.meshinfer.security;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/**
 * Audit log settings, read once from {@code meshinfer.audit}: the directory (empty: no
 * audit log), the size at which a file is closed and the next one started, how many
 * records may wait for the writer, what happens when that many are waiting, and whether
 * each batch of records is forced to disk.
 */
public record AuditSettings(Optional<Path> dir, long maxFileBytes, int queueCapacity, WhenFull whenFull,
                            boolean fsync) {

    /** What a request finds when the writer's queue is full. */
    public enum WhenFull {
        /** The request is refused (503, UNAVAILABLE): nothing happens that is not audited. */
        REFUSE,
        /** The request goes ahead and its record is dropped (counted and logged). */
        DROP
    }

    public AuditSettings {
        if (maxFileBytes < 1024) {
            throw new IllegalArgumentException("meshinfer.audit.max-file-size must be at least 1KiB, got "
                    + maxFileBytes);
        }
        if (queueCapacity < 1) {
            throw new IllegalArgumentException("meshinfer.audit.queue-capacity must be at least 1, got "
                    + queueCapacity);
        }
    }

    public static AuditSettings fromConfig(Config root) {
        Config c = root.getConfig("meshinfer.audit");
        String dir = c.getString("dir");
        String whenFull = c.getString("when-full").toUpperCase(Locale.ROOT);
        WhenFull policy;
        try {
            policy = WhenFull.valueOf(whenFull);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("meshinfer.audit.when-full must be refuse or drop, not '"
                    + c.getString("when-full") + "'");
        }
        return new AuditSettings(dir.isBlank() ? Optional.empty() : Optional.of(Path.of(dir)),
                c.getBytes("max-file-size"), c.getInt("queue-capacity"), policy, c.getBoolean("fsync"));
    }
}
