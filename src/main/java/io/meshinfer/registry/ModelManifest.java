package io.meshinfer.registry;

import io.meshinfer.runtime.ModelSignature;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Everything the cluster knows about one deployed model version: its artifact (sha256,
 * size), signature, placement (replica count, allowed regions; empty means any), batching
 * overrides (null keeps the node default), who deployed it from which node, when, and its
 * golden vectors (null: none), which every node checks its replica against before serving.
 */
public record ModelManifest(
        String model,
        String version,
        String sha256,
        long sizeBytes,
        ModelSignature signature,
        int replicas,
        Set<String> regions,
        Integer maxBatch,
        Long maxDelayMillis,
        String originNode,
        long deployedAtMillis,
        String deployedBy,
        GoldenVectors golden) {

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    public ModelManifest {
        requireName("model", model);
        requireName("version", version);
        // the artifact file name is built from it: nothing but a hash may name a file
        if (!ArtifactStore.isHash(sha256)) {
            throw new IllegalArgumentException("sha256 must be 64 lowercase hex digits, got '"
                    + (sha256 == null || sha256.length() <= 80 ? sha256 : sha256.substring(0, 80) + "...") + "'");
        }
        if (replicas < 1) {
            throw new IllegalArgumentException("replicas must be at least 1, got " + replicas);
        }
        regions = regions == null ? Set.of() : Set.copyOf(regions);
    }

    /**
     * Checks a model or version name: 1 to 64 letters, digits, '.', '_' or '-', starting
     * with a letter or digit (so names never clash with the entity id separators).
     */
    public static void requireName(String what, String value) {
        if (value == null || !NAME.matcher(value).matches()) {
            throw new IllegalArgumentException(what + " name '" + value + "' is invalid: use 1 to 64 letters,"
                    + " digits, '.', '_' or '-', starting with a letter or digit");
        }
    }

    /** "model@version", the key of this version in the catalog. */
    public String key() {
        return model + "@" + version;
    }

    /** The sharding entity ids of this version's replicas: {@code model@version#i}. */
    public List<String> replicaIds() {
        List<String> ids = new ArrayList<>(replicas);
        for (int i = 0; i < replicas; i++) {
            ids.add(ReplicaId.format(model, version, i));
        }
        return ids;
    }
}
