package io.meshinfer.ensemble;

import com.typesafe.config.Config;

/**
 * Ensemble limits, read once from {@code meshinfer.ensemble}.
 *
 * @param maxMembers the most members one ensemble may have (a request to it fans out to each)
 */
public record EnsembleSettings(int maxMembers) {

    public static EnsembleSettings fromConfig(Config root) {
        Config e = root.getConfig("meshinfer.ensemble");
        int max = e.getInt("max-members");
        if (max < 1) {
            throw new IllegalArgumentException("meshinfer.ensemble.max-members must be at least 1, not " + max);
        }
        return new EnsembleSettings(max);
    }
}
