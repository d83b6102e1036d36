package io.meshinfer.runtime;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.meshinfer.tensor.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node-local ONNX Runtime: one session per artifact (keyed by sha256), shared by
 * every holder and closed when the last holder releases it. Lives as long as the
 * process, not the actor system, so loaded sessions survive a cluster rejoin.
 *
 * <p>Thread-safe. Loading happens under the runtime's lock: loads are rare and slow,
 * and serializing them keeps two replicas of one artifact from loading it twice.
 */
public final class ModelRuntime implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ModelRuntime.class);

    private final RuntimeSettings settings;
    private final OrtEnvironment env;
    private final Map<String, Holder> loaded = new HashMap<>();

    private static final class Holder {
        final LoadedModel model;
        int refs;

        Holder(LoadedModel model) {
            this.model = model;
        }
    }

    public ModelRuntime(RuntimeSettings settings) {
        this.settings = settings;
        this.env = OrtNative.environment();
    }

    public RuntimeSettings settings() {
        return settings;
    }

    /**
     * Returns the session for {@code sha256}, loading it from {@code file} if no holder has
     * it yet. Every successful call must be paired with one {@link #release}.
     *
     * @throws ModelLoadException if the file is empty, too large, not ONNX, or uses
     *     inputs meshinfer cannot serve
     */
    public synchronized LoadedModel acquire(String sha256, Path file) throws ModelLoadException {
        Holder h = loaded.get(sha256);
        if (h == null) {
            h = new Holder(load(sha256, file));
            loaded.put(sha256, h);
            log.info("loaded model {} ({} bytes, batchable: {})", sha256, h.model.fileBytes(),
                    h.model.signature().batchable());
        }
        h.refs++;
        return h.model;
    }

    /** Gives back one hold on {@code model}; the last release closes its session. */
    public synchronized void release(LoadedModel model) {
        Holder h = loaded.get(model.sha256());
        if (h == null || h.model != model) {
            throw new IllegalStateException("model " + model.sha256() + " is not held");
        }
        if (--h.refs == 0) {
            loaded.remove(model.sha256());
            try {
                model.close();
                log.info("unloaded model {}", model.sha256());
            } catch (OrtException e) {
                log.warn("closing the session of model {} failed: {}", model.sha256(), e.getMessage());
            }
        }
    }

    /** Loads {@code file} just long enough to read its signature (the deploy-time check). */
    public ModelSignature inspect(String sha256, Path file) throws ModelLoadException {
        LoadedModel m = acquire(sha256, file);
        try {
            return m.signature();
        } finally {
            release(m);
        }
    }

    /**
     * Bytes of the model files behind the open sessions: the weights each session holds in
     * native memory (ONNX Runtime's arena for activations comes on top and is not visible
     * from Java).
     */
    public synchronized long loadedSessionBytes() {
        long bytes = 0;
        for (Holder h : loaded.values()) {
            bytes += h.model.fileBytes();
        }
        return bytes;
    }

    /** The sha256 of every loaded session with its number of holders. */
    public synchronized Map<String, Integer> loadedSessions() {
        Map<String, Integer> out = new TreeMap<>();
        loaded.forEach((k, v) -> out.put(k, v.refs));
        return out;
    }

    private LoadedModel load(String sha256, Path file) throws ModelLoadException {
        long size;
        try {
            size = Files.size(file);
        } catch (IOException e) {
            throw new ModelLoadException("model file " + file + " cannot be read: " + e.getMessage(), e);
        }
        if (size == 0) {
            throw new ModelLoadException("the model file is empty (0 bytes)");
        }
        if (size > settings.maxModelBytes()) {
            throw new ModelLoadException("the model file has " + size + " bytes, more than the limit of "
                    + settings.maxModelBytes());
        }
        // ONNX Runtime is native code: only files that pass these checks reach it.
        OnnxModelCheck.check(file);
        OrtSession session;
        try (OrtSession.SessionOptions options = sessionOptions()) {
            session = env.createSession(file.toString(), options);
        } catch (OrtException e) {
            throw new ModelLoadException("not a valid ONNX model: " + firstLine(e.getMessage()), e);
        }
        try {
            ModelSignature sig = ModelSignature.of(specs(session.getInputInfo(), "input"),
                    specs(session.getOutputInfo(), "output"));
            if (sig.inputs().isEmpty() || sig.outputs().isEmpty()) {
                throw new ModelLoadException("the model has no tensor inputs or no tensor outputs");
            }
            return new LoadedModel(sha256, size, sig, env, session);
        } catch (OrtException | ModelLoadException | RuntimeException e) {
            closeQuietly(session);
            if (e instanceof ModelLoadException mle) {
                throw mle;
            }
            throw new ModelLoadException("cannot read the model's signature: " + e.getMessage(), e);
        }
    }

    private static void closeQuietly(OrtSession session) {
        try {
            session.close();
        } catch (OrtException e) {
            log.warn("closing a rejected session failed: {}", e.getMessage());
        }
    }

    private OrtSession.SessionOptions sessionOptions() throws OrtException {
        OrtSession.SessionOptions o = new OrtSession.SessionOptions();
        o.setIntraOpNumThreads(settings.intraOpThreads());
        o.setInterOpNumThreads(settings.interOpThreads());
        o.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
        o.setOptimizationLevel(optLevel(settings.optimizationLevel()));
        o.addConfigEntry("session.intra_op.allow_spinning", settings.allowSpinning() ? "1" : "0");
        o.addConfigEntry("session.inter_op.allow_spinning", settings.allowSpinning() ? "1" : "0");
        o.setSessionLogLevel(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
        return o;
    }

    private static OrtSession.SessionOptions.OptLevel optLevel(String name) {
        return switch (name) {
            case "none" -> OrtSession.SessionOptions.OptLevel.NO_OPT;
            case "basic" -> OrtSession.SessionOptions.OptLevel.BASIC_OPT;
            case "extended" -> OrtSession.SessionOptions.OptLevel.EXTENDED_OPT;
            case "all" -> OrtSession.SessionOptions.OptLevel.ALL_OPT;
            default -> throw new IllegalArgumentException("meshinfer.runtime.optimization-level must be "
                    + "none, basic, extended or all, not '" + name + "'");
        };
    }

    private static List<TensorSpec> specs(Map<String, NodeInfo> infos, String kind) throws ModelLoadException {
        List<TensorSpec> out = new ArrayList<>();
        for (NodeInfo n : infos.values()) {
            if (!(n.getInfo() instanceof TensorInfo ti)) {
                if (kind.equals("input")) {
                    throw new ModelLoadException("input '" + n.getName() + "' is not a tensor ("
                            + n.getInfo() + "); meshinfer serves tensor inputs only");
                }
                continue; // non-tensor outputs (e.g. ZipMap sequences) are not served
            }
            DType dtype = OrtTensors.dtypeOf(ti.type);
            if (dtype == null) {
                if (kind.equals("input")) {
                    throw new ModelLoadException("input '" + n.getName() + "' has element type " + ti.type
                            + ", which meshinfer does not serve (supported: " + List.of(DType.values()) + ")");
                }
                continue;
            }
            long[] shape = ti.getShape();
            String[] names = ti.getDimensionNames();
            List<TensorSpec.Dim> dims = new ArrayList<>(shape.length);
            for (int i = 0; i < shape.length; i++) {
                String symbol = names != null && i < names.length ? names[i] : "";
                dims.add(shape[i] >= 0 ? TensorSpec.Dim.fixed(shape[i]) : TensorSpec.Dim.symbolic(symbol));
            }
            out.add(new TensorSpec(n.getName(), dtype, dims));
        }
        return out;
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unknown error";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** Closes every session still loaded (process shutdown). */
    @Override
    public synchronized void close() {
        for (Holder h : loaded.values()) {
            try {
                h.model.close();
            } catch (OrtException e) {
                log.warn("closing the session of model {} failed: {}", h.model.sha256(), e.getMessage());
            }
        }
        loaded.clear();
    }
}
