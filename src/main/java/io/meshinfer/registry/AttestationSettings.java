package io.meshinfer.registry;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * How golden vectors are recorded and checked, read once from {@code meshinfer.attestation}
 * (see reference.conf for what each setting trades off).
 *
 * @param goldenSamples samples recorded when a deploy supplies none (0: record none)
 * @param dynamicDimSize the size given to a dynamic dimension other than the batch axis
 *     in recorded samples (the batch axis gets 1)
 * @param tolerance the default absolute tolerance of floating-point outputs
 * @param maxGoldenBytes the most raw tensor bytes a version's golden vectors may hold
 * @param writeTimeout how long publishing an attestation waits for every node
 */
public record AttestationSettings(int goldenSamples, int dynamicDimSize, double tolerance, long maxGoldenBytes,
                                  Duration writeTimeout) {

    public AttestationSettings {
        if (goldenSamples < 0 || goldenSamples > 64) {
            throw new IllegalArgumentException("meshinfer.attestation.golden-samples must be between 0 and 64, not "
                    + goldenSamples);
        }
        if (dynamicDimSize < 1) {
            throw new IllegalArgumentException("meshinfer.attestation.dynamic-dim-size must be at least 1, not "
                    + dynamicDimSize);
        }
        if (!(tolerance >= 0) || Double.isInfinite(tolerance)) {
            throw new IllegalArgumentException("meshinfer.attestation.tolerance must be a finite number >= 0, not "
                    + tolerance);
        }
    }

    public static AttestationSettings fromConfig(Config root) {
        Config c = root.getConfig("meshinfer.attestation");
        return new AttestationSettings(c.getInt("golden-samples"), c.getInt("dynamic-dim-size"),
                c.getDouble("tolerance"), c.getBytes("max-golden-bytes"), c.getDuration("write-timeout"));
    }
}
