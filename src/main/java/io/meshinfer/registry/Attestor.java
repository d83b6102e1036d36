package io.meshinfer.registry;

import io.meshinfer.api.InferenceException;
import io.meshinfer.runtime.LoadedModel;
import io.meshinfer.runtime.ModelLoadException;
import io.meshinfer.runtime.ModelRuntime;
import io.meshinfer.runtime.ModelSignature;
import io.meshinfer.runtime.OrtNative;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's side of consistency attestation. At deploy it records golden vectors for a
 * new version (or checks that the model reproduces supplied ones); at replica load it runs
 * the manifest's golden vectors on the freshly loaded session, before the replica serves,
 * and refuses a session whose outputs deviate beyond the tolerance.
 *
 * <p>It belongs to the process, like the replica pool, and outlives cluster memberships:
 * it keeps this node's latest result per version (bounded: the cluster's
 * {@link Attestations} actor prunes versions that left the catalog) and hands every new
 * result to the sink the current membership's actor installed, which republishes all of
 * them when a new membership starts. It also holds the {@link AttestationView} of every
 * node's results that actor keeps current.
 *
 * <p>Thread-safe. {@link #inspect} and {@link #attest} run models and block: call them on
 * the runtime dispatcher.
 */
public final class Attestor {
    private static final Logger log = LoggerFactory.getLogger(Attestor.class);
    private static final Consumer<Attestation> NO_SINK = a -> { };

    private final AttestationSettings settings;
    private final ModelRuntime runtime;
    private final String node;
    private final String region;
    private final Supplier<String> address;
    private final String runtimeVersion;
    private final Map<String, Attestation> latest = new ConcurrentHashMap<>();
    private final AttestationView view = new AttestationView();
    private final AtomicReference<Consumer<Attestation>> sink = new AtomicReference<>(NO_SINK);

    /**
     * @param node this node's name
     * @param region this node's region
     * @param address this node's current cluster address ("" between memberships)
     */
    public Attestor(AttestationSettings settings, ModelRuntime runtime, String node, String region,
                    Supplier<String> address) {
        this.settings = settings;
        this.runtime = runtime;
        this.node = node;
        this.region = region;
        this.address = address;
        this.runtimeVersion = "onnxruntime " + OrtNative.environment().getVersion();
    }

    public AttestationSettings settings() {
        return settings;
    }

    public String node() {
        return node;
    }

    /** A deploy's model file as inspected: its signature and the golden vectors its manifest carries. */
    public record Inspection(ModelSignature signature, GoldenVectors golden) {
    }

    /**
     * Loads {@code file} once (the deploy-time check): reads its signature and, with
     * {@code supplied} golden vectors, checks that they fit the signature and that this
     * node's session reproduces them; without, and with {@code record}, records golden
     * vectors ({@link AttestationSettings#goldenSamples} samples). A model whose inputs are
     * too large for golden vectors, or that fails on recorded inputs, is deployed without
     * (logged).
     *
     * @throws ModelLoadException if the file is not a model meshinfer can serve
     * @throws InferenceException.InvalidInput if supplied golden vectors do not fit the
     *     model or the model does not reproduce them within their tolerance
     */
    public Inspection inspect(String sha256, Path file, GoldenVectors supplied, boolean record)
            throws ModelLoadException {
        LoadedModel model = runtime.acquire(sha256, file);
        try {
            ModelSignature sig = model.signature();
            if (supplied != null) {
                GoldenCheck.validate(supplied, sig, settings.maxGoldenBytes());
                GoldenCheck.Verdict v = GoldenCheck.verify(model, supplied);
                if (!v.passed()) {
                    throw new InferenceException.InvalidInput("the model does not reproduce the supplied golden"
                            + " vectors on node " + node + ": " + v.detail());
                }
                return new Inspection(sig, supplied);
            }
            if (!record || settings.goldenSamples() == 0) {
                return new Inspection(sig, null);
            }
            return new Inspection(sig, record(model));
        } finally {
            runtime.release(model);
        }
    }

    private GoldenVectors record(LoadedModel model) {
        try {
            GoldenVectors g = GoldenCheck.record(model, settings.goldenSamples(), settings.dynamicDimSize(),
                    settings.maxGoldenBytes(), settings.tolerance(), GoldenVectors.recordedBy(node),
                    seedOf(model.sha256()));
            if (g == null) {
                log.warn("model {}: one sample of its inputs holds more than {} bytes"
                        + " (meshinfer.attestation.max-golden-bytes); deployed without golden vectors",
                        model.sha256(), settings.maxGoldenBytes());
            }
            return g;
        } catch (InferenceException e) {
            log.warn("model {} fails on recorded golden inputs ({}); deployed without golden vectors",
                    model.sha256(), e.getMessage());
            return null;
        }
    }

    /** The same random inputs for the same artifact, on any node, at any time. */
    private static long seedOf(String sha256) {
        return ArtifactStore.isHash(sha256) ? HexFormat.fromHexDigitsToLong(sha256, 0, 16) : sha256.hashCode();
    }

    /**
     * Checks a freshly loaded session of {@code manifest} against its golden vectors (if it
     * has any), records the result as this node's latest for the version and publishes it.
     *
     * @throws ModelLoadException naming the deviation, if the session deviates beyond the
     *     tolerance: the replica must not serve (the caller releases the session)
     */
    public void attest(ModelManifest manifest, LoadedModel model) throws ModelLoadException {
        GoldenVectors golden = manifest.golden();
        if (golden == null) {
            return;
        }
        GoldenCheck.Verdict v = GoldenCheck.verify(model, golden);
        Attestation a = new Attestation(manifest.model(), manifest.version(), manifest.sha256(), node,
                address.get(), region, v.passed(), v.maxDeviation(), golden.tolerance(), v.detail(),
                System.currentTimeMillis(), runtimeVersion);
        latest.put(manifest.key(), a);
        try {
            sink.get().accept(a);
        } catch (RuntimeException e) {
            log.warn("could not publish the attestation of {}: {}", manifest.key(), e.toString());
        }
        if (!v.passed()) {
            log.warn("{} FAILED consistency attestation on node {}: {} (golden vectors {}); the replica will not"
                    + " serve", manifest.key(), node, v.detail(), golden.source());
            throw new ModelLoadException("consistency attestation failed on node " + node + ": " + v.detail());
        }
        log.info("{} passed consistency attestation on node {}: max deviation {} (tolerance {})", manifest.key(),
                node, v.maxDeviation(), golden.tolerance());
    }

    /** This node's latest result for every version it checked (and that is still deployed). */
    public Collection<Attestation> local() {
        return List.copyOf(latest.values());
    }

    /** Forgets this node's results for versions not in {@code deployed} ({@code model@version} to sha256). */
    public void retain(Map<String, String> deployed) {
        latest.values().removeIf(a -> !a.sha256().equals(deployed.get(a.versionKey())));
    }

    /** Every node's results as this node last heard of them. */
    public AttestationView view() {
        return view;
    }

    /**
     * The latest result of every node for one version of an artifact (null {@code sha256}:
     * any), sorted by node: this node's own from memory, the others' as replicated.
     */
    public List<Attestation> attestations(String model, String version, String sha256) {
        List<Attestation> out = new ArrayList<>();
        for (Attestation a : view.of(model, version)) {
            if (!a.node().equals(node)) {
                out.add(a);
            }
        }
        Attestation mine = latest.get(model + "@" + version);
        if (mine != null) {
            out.add(mine);
        }
        out.removeIf(a -> sha256 != null && !a.sha256().equals(sha256));
        out.sort(Comparator.comparing(Attestation::node));
        return out;
    }

    /** Every node's latest result for every version, this node's own from memory. */
    public List<Attestation> all() {
        List<Attestation> out = new ArrayList<>();
        for (Attestation a : view.all()) {
            if (!a.node().equals(node)) {
                out.add(a);
            }
        }
        out.addAll(latest.values());
        out.sort(Comparator.comparing(Attestation::key));
        return out;
    }

    /** Installs where new results go (the current membership's publisher); returns the one it replaces. */
    Consumer<Attestation> sink(Consumer<Attestation> next) {
        return sink.getAndSet(next);
    }

    /** Removes {@code current} as the sink if it still is one (its membership ended). */
    void clearSink(Consumer<Attestation> current) {
        sink.compareAndSet(current, NO_SINK);
    }
}
