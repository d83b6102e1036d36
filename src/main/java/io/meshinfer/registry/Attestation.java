package io.meshinfer.registry;

/**
 * What one node found when it ran a model version's golden vectors on its own session
 * before serving it: whether every output matched within {@code tolerance}, the largest
 * absolute deviation over all samples and outputs (infinite when the outputs could not be
 * compared at all, e.g. the model failed or an output had another shape), a detail for
 * operators, when, and with which ONNX Runtime. Published cluster-wide by
 * {@link Attestations}; one entry per version and node, the latest.
 *
 * @param address the node's cluster address when it published this (it may change
 *     between cluster memberships)
 * @param atMillis when the check ran (epoch milliseconds)
 */
public record Attestation(String model, String version, String sha256, String node, String address, String region,
                          boolean passed, double maxDeviation, double tolerance, String detail, long atMillis,
                          String runtimeVersion) {

    /** The version this is about, {@code model@version}, as in the catalog. */
    public String versionKey() {
        return model + "@" + version;
    }

    /** The key of this entry in the replicated map: one per version and node. */
    public String key() {
        return versionKey() + "/" + node;
    }

    /** This result as published from {@code newAddress} (after a rejoin). */
    public Attestation withAddress(String newAddress) {
        return new Attestation(model, version, sha256, node, newAddress, region, passed, maxDeviation, tolerance,
                detail, atMillis, runtimeVersion);
    }
}
