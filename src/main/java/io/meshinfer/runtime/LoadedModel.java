package io.meshinfer.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.meshinfer.api.InferenceException;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One ONNX Runtime session and its signature, shared by every replica on this node that
 * serves the same artifact (same sha256). {@link #run} is thread-safe and blocking: call
 * it only on the runtime dispatcher. Obtained from and returned to {@link ModelRuntime},
 * which closes the session when the last holder releases it.
 */
public final class LoadedModel {
    private final String sha256;
    private final long fileBytes;
    private final ModelSignature signature;
    private final OrtEnvironment env;
    private final OrtSession session;
    private final Set<String> allOutputs;
    private final AtomicLong runs = new AtomicLong();
    private volatile boolean closed;

    LoadedModel(String sha256, long fileBytes, ModelSignature signature, OrtEnvironment env, OrtSession session) {
        this.sha256 = sha256;
        this.fileBytes = fileBytes;
        this.signature = signature;
        this.env = env;
        this.session = session;
        Set<String> outs = new LinkedHashSet<>();
        signature.outputs().forEach(o -> outs.add(o.name()));
        this.allOutputs = Set.copyOf(outs);
    }

    public String sha256() {
        return sha256;
    }

    public long fileBytes() {
        return fileBytes;
    }

    public ModelSignature signature() {
        return signature;
    }

    /** How many times the session has run (a batch counts once). */
    public long runCount() {
        return runs.get();
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * Runs the model once.
     *
     * @param inputs every model input, already validated against the signature
     * @param outputs the outputs to compute; empty for all
     * @return the outputs in the signature's order
     * @throws InferenceException.ModelFailed if ONNX Runtime rejects the input or fails
     * @throws InferenceException.Unavailable if the session has been closed
     */
    public List<NamedTensor> run(List<NamedTensor> inputs, Set<String> outputs) {
        if (closed) {
            throw new InferenceException.Unavailable("model " + sha256 + " has been unloaded");
        }
        Set<String> wanted = outputs.isEmpty() ? allOutputs : outputs;
        Map<String, OnnxTensor> feed = new HashMap<>(inputs.size() * 2);
        try {
            for (NamedTensor t : inputs) {
                feed.put(t.name(), OrtTensors.toOrt(env, t.tensor()));
            }
            runs.incrementAndGet();
            try (OrtSession.Result result = session.run(feed, wanted)) {
                List<NamedTensor> out = new ArrayList<>(wanted.size());
                for (TensorSpec spec : signature.outputs()) {
                    if (!wanted.contains(spec.name())) {
                        continue;
                    }
                    OnnxValue v = result.get(spec.name()).orElseThrow(() ->
                            new InferenceException.ModelFailed("model produced no output '" + spec.name() + "'"));
                    if (!(v instanceof OnnxTensor ot)) {
                        throw new InferenceException.ModelFailed("output '" + spec.name() + "' is not a tensor");
                    }
                    Tensor converted = OrtTensors.fromOrt(ot);
                    out.add(new NamedTensor(spec.name(), converted));
                }
                return out;
            }
        } catch (OrtException e) {
            throw new InferenceException.ModelFailed("the model failed on this input: " + e.getMessage());
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    /**
     * Runs several requests as one batch: their inputs are concatenated along axis 0
     * straight into {@code scratch}'s direct buffers (read by ONNX Runtime in place) and
     * every output is split back into one list per request, each in the signature's order.
     *
     * @param perRequest each request's inputs, in the model's input order
     * @param rows each request's rows (1 each for a model that cannot batch)
     * @param outputs the outputs to compute; empty for all
     * @param scratch this run's buffers; not used by another run at the same time
     * @throws InferenceException.ModelFailed if ONNX Runtime fails or an output does not
     *     keep the batch on axis 0
     */
    public List<List<NamedTensor>> runBatch(List<List<NamedTensor>> perRequest, int[] rows, Set<String> outputs,
                                            RunScratch scratch) {
        if (closed) {
            throw new InferenceException.Unavailable("model " + sha256 + " has been unloaded");
        }
        Set<String> wanted = outputs.isEmpty() ? allOutputs : outputs;
        List<NamedTensor> first = perRequest.get(0);
        Map<String, OnnxTensor> feed = new HashMap<>(first.size() * 2);
        try {
            for (int i = 0; i < first.size(); i++) {
                String name = first.get(i).name();
                if (perRequest.size() == 1) {
                    feed.put(name, OrtTensors.concatToOrt(env, name, List.of(first.get(i).tensor()), scratch));
                    continue;
                }
                List<Tensor> parts = new ArrayList<>(perRequest.size());
                for (List<NamedTensor> r : perRequest) {
                    parts.add(r.get(i).tensor());
                }
                feed.put(name, OrtTensors.concatToOrt(env, name, parts, scratch));
            }
            runs.incrementAndGet();
            try (OrtSession.Result result = session.run(feed, wanted)) {
                List<List<NamedTensor>> out = new ArrayList<>(perRequest.size());
                for (int r = 0; r < perRequest.size(); r++) {
                    out.add(new ArrayList<>(wanted.size()));
                }
                for (TensorSpec spec : signature.outputs()) {
                    if (!wanted.contains(spec.name())) {
                        continue;
                    }
                    OnnxValue v = result.get(spec.name()).orElseThrow(() ->
                            new InferenceException.ModelFailed("model produced no output '" + spec.name() + "'"));
                    if (!(v instanceof OnnxTensor ot)) {
                        throw new InferenceException.ModelFailed("output '" + spec.name() + "' is not a tensor");
                    }
                    Tensor[] parts;
                    if (perRequest.size() == 1) {
                        parts = new Tensor[] {OrtTensors.fromOrt(ot)};
                    } else {
                        try {
                            parts = OrtTensors.splitFromOrt(ot, rows);
                        } catch (IllegalArgumentException e) {
                            throw new InferenceException.ModelFailed("output '" + spec.name() + "': " + e.getMessage());
                        }
                    }
                    for (int r = 0; r < parts.length; r++) {
                        out.get(r).add(new NamedTensor(spec.name(), parts[r]));
                    }
                }
                return out;
            }
        } catch (OrtException e) {
            throw new InferenceException.ModelFailed("the model failed on this input: " + e.getMessage());
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }


    void close() throws OrtException {
        closed = true;
        session.close();
    }
}
