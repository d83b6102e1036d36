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
 *
 * <p>A model deployed with {@code stages=K} is a <em>pipeline</em>: its own manifest has
 * {@code stages = K}, no replicas of its own ({@link #replicaIds()} is empty), and its K
 * stages are internal models named {@link #stageModel(String, int) model~stage-i} under the
 * same version, each with {@code stageOf} naming the pipeline's model, placed and served like
 * any model version. Stage i+1 takes exactly what stage i gives, by name.
 *
 * <p>A version with an {@code ensemble} spec is an <em>ensemble</em>: its signature is the
 * combination of its members', its {@code sha256} the hash of the spec ({@link
 * EnsembleSpec#contentHash}), not of a file, and it has no replicas of its own either.
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
        GoldenVectors golden,
        int stages,
        String stageOf,
        EnsembleSpec ensemble) {

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    /** Separates a pipeline's model name from its stage index; users cannot name a model with it. */
    public static final String STAGE_SEPARATOR = "~stage-";

    public ModelManifest {
        if (stageOf == null) {
            requireName("model", model);
        } else {
            requireName("pipeline model", stageOf);
            if (!model.startsWith(stageOf + STAGE_SEPARATOR)) {
                throw new IllegalArgumentException("stage model '" + model + "' is not named after its pipeline '"
                        + stageOf + "'");
            }
        }
        if (stages < 0 || (stages > 0 && stageOf != null)) {
            throw new IllegalArgumentException("stages must be 0 (a plain model or a stage) or the pipeline's stage"
                    + " count, got " + stages);
        }
        requireName("version", version);
        // the artifact file name is built from it: nothing but a hash may name a file
        if (!ArtifactStore.isHash(sha256)) {
            throw new IllegalArgumentException("sha256 must be 64 lowercase hex digits, got '"
                    + (sha256 == null || sha256.length() <= 80 ? sha256 : sha256.substring(0, 80) + "...") + "'");
        }
        if (replicas < 1) {
            throw new IllegalArgumentException("replicas must be at least 1, got " + replicas);
        }
        if (ensemble != null && (stages > 0 || stageOf != null)) {
            throw new IllegalArgumentException("an ensemble is neither a pipeline nor a stage");
        }
        regions = regions == null ? Set.of() : Set.copyOf(regions);
    }

    /** A plain model, pipeline or stage version (no ensemble). */
    public ModelManifest(String model, String version, String sha256, long sizeBytes, ModelSignature signature,
                         int replicas, Set<String> regions, Integer maxBatch, Long maxDelayMillis, String originNode,
                         long deployedAtMillis, String deployedBy, GoldenVectors golden, int stages, String stageOf) {
        this(model, version, sha256, sizeBytes, signature, replicas, regions, maxBatch, maxDelayMillis, originNode,
                deployedAtMillis, deployedBy, golden, stages, stageOf, null);
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

    /** The internal model name of stage {@code index} of pipeline model {@code model}. */
    public static String stageModel(String model, int index) {
        return model + STAGE_SEPARATOR + index;
    }

    /** The pipeline model a (stage) model name belongs to, or null if it names no stage. */
    public static String pipelineOf(String model) {
        int i = model.indexOf(STAGE_SEPARATOR);
        return i <= 0 ? null : model.substring(0, i);
    }

    /** Whether this version is served as a chain of stage models. */
    public boolean isPipeline() {
        return stages > 0;
    }

    /** Whether this version is an ensemble: served by combining its member models' answers. */
    public boolean isEnsemble() {
        return ensemble != null;
    }

    /** This pipeline's stage model names, in order; empty for a plain model or a stage. */
    public List<String> stageModels() {
        List<String> names = new ArrayList<>(stages);
        for (int i = 0; i < stages; i++) {
            names.add(stageModel(model, i));
        }
        return names;
    }

    /**
     * The sharding entity ids of this version's replicas: {@code model@version#i}; none for a
     * pipeline, whose stages have the replicas.
     */
    public List<String> replicaIds() {
        if (isPipeline() || isEnsemble()) {
            return List.of();
        }
        List<String> ids = new ArrayList<>(replicas);
        for (int i = 0; i < replicas; i++) {
            ids.add(ReplicaId.format(model, version, i));
        }
        return ids;
    }
}
