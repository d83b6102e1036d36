package io.meshinfer.rollout;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.List;

/** The {@code meshinfer.rollout} settings: defaults for specs and the manager's timings. */
public record RolloutSettings(List<Integer> defaultSteps, Duration defaultStep, Double maxErrorRate,
                              Double maxP99Ratio, Duration p99Slack, Double minAgreement, int minRequests,
                              Duration tickInterval, Duration readyTimeout, Duration statsTimeout,
                              Duration writeTimeout, int statsWindowSeconds, int mirrorMaxInFlight) {

    public static RolloutSettings fromConfig(Config root) {
        Config c = root.getConfig("meshinfer.rollout");
        return new RolloutSettings(c.getIntList("default-steps"), c.getDuration("default-step-duration"),
                c.getDouble("gates.max-error-rate"), c.getDouble("gates.max-p99-ratio"),
                c.getDuration("gates.p99-slack"), c.getDouble("gates.min-agreement"),
                c.getInt("gates.min-requests"), c.getDuration("tick-interval"), c.getDuration("ready-timeout"),
                c.getDuration("stats-timeout"), root.getDuration("meshinfer.catalog.write-timeout"),
                (int) c.getDuration("stats-window").toSeconds(), c.getInt("mirror-max-in-flight"));
    }
}
