package io.meshinfer.observability;

import com.typesafe.config.Config;

/**
 * The {@code meshinfer.drift} settings.
 *
 * @param referenceSamples values per feature that make the reference profile (the first
 *     ones this node sees for a version)
 * @param blockSamples values per feature in one block of the sliding window (the window is
 *     the last one to two blocks)
 * @param bins histogram bins (reference quantiles) per numeric feature
 * @param samplesPerTensor values sampled (evenly strided) from each input tensor of a request
 * @param psiThreshold population stability index above which a feature is flagged
 * @param maxFeatures features tracked per version (inputs and outputs), the rest ignored
 * @param maxClasses classes tracked for an output's top-1 distribution
 * @param sampleEvery one answered request in this many (on average, chosen at random) is observed
 */
public record DriftSettings(boolean enabled, int referenceSamples, int blockSamples, int bins, int samplesPerTensor,
                            double psiThreshold, int maxFeatures, int maxClasses, int sampleEvery) {

    public DriftSettings {
        if (sampleEvery < 1) {
            throw new IllegalArgumentException("meshinfer.drift.sample-every must be at least 1, not " + sampleEvery);
        }
    }

    public static DriftSettings fromConfig(Config root) {
        Config c = root.getConfig("meshinfer.drift");
        return new DriftSettings(c.getBoolean("enabled"), c.getInt("reference-samples"), c.getInt("block-samples"),
                c.getInt("bins"), c.getInt("samples-per-tensor"), c.getDouble("psi-threshold"),
                c.getInt("max-features"), c.getInt("max-classes"), c.getInt("sample-every"));
    }
}
