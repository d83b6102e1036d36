package io.meshinfer.registry;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.Optional;

/**
 * How a node moves and checks model artifacts, read once from {@code meshinfer.artifacts}:
 * the budget of one transfer from one peer, how long a transfer may stall, how long a
 * connection attempt may take, how many transfers run at once, how often transfer progress
 * is logged, and how often stored artifacts are re-hashed (empty: never).
 */
public record ArtifactSettings(Duration fetchTimeout, Duration idleTimeout, Duration connectTimeout,
                               int maxConcurrentFetches, Duration progressLogInterval,
                               Optional<Duration> scrubInterval) {

    public ArtifactSettings {
        if (maxConcurrentFetches < 1) {
            throw new IllegalArgumentException("max-concurrent-fetches must be at least 1, got "
                    + maxConcurrentFetches);
        }
        for (Duration d : new Duration[] {fetchTimeout, idleTimeout, connectTimeout, progressLogInterval}) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("artifact timeouts and intervals must be positive, got " + d);
            }
        }
        if (scrubInterval.isPresent() && (scrubInterval.get().isNegative() || scrubInterval.get().isZero())) {
            throw new IllegalArgumentException("scrub-interval must be positive or off, got " + scrubInterval.get());
        }
    }

    public static ArtifactSettings fromConfig(Config root) {
        Config c = root.getConfig("meshinfer.artifacts");
        String scrub = c.getString("scrub-interval");
        Optional<Duration> scrubInterval = scrub.equals("off") || scrub.equals("false")
                ? Optional.empty() : Optional.of(c.getDuration("scrub-interval"));
        return new ArtifactSettings(c.getDuration("fetch-timeout"), c.getDuration("fetch-idle-timeout"),
                c.getDuration("fetch-connect-timeout"), c.getInt("max-concurrent-fetches"),
                c.getDuration("progress-log-interval"), scrubInterval);
    }
}
