package io.meshinfer.api;

import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.util.List;

/**
 * The result of one request: its id, the model version that answered, the output
 * tensors, and where and how it was served (node, region, the number of rows in the
 * batch it ran in, whether the node was cut off from its cluster), and the trace span that
 * served it ({@link TraceContext}; null when unknown, e.g. decoded from a peer's HTTP answer),
 * and, for an ensemble, which members answered ({@link EnsembleReport}; null for any other model).
 */
public record InferenceResponse(
        String id,
        String model,
        String version,
        List<NamedTensor> outputs,
        String node,
        String region,
        int batchRows,
        boolean islandMode,
        TraceContext trace,
        EnsembleReport ensemble) {

    public InferenceResponse {
        outputs = List.copyOf(outputs);
    }

    /** A response of a model that is not an ensemble. */
    public InferenceResponse(String id, String model, String version, List<NamedTensor> outputs, String node,
                             String region, int batchRows, boolean islandMode, TraceContext trace) {
        this(id, model, version, outputs, node, region, batchRows, islandMode, trace, null);
    }

    /** A response that names no trace. */
    public InferenceResponse(String id, String model, String version, List<NamedTensor> outputs, String node,
                             String region, int batchRows, boolean islandMode) {
        this(id, model, version, outputs, node, region, batchRows, islandMode, null, null);
    }

    /** The id of the trace the request belonged to (32 hex digits), or null when unknown. */
    public String traceId() {
        return trace == null ? null : trace.traceId();
    }

    /** The output called {@code name}. */
    public Tensor output(String name) {
        Tensor t = NamedTensor.find(outputs, name);
        if (t == null) {
            throw new IllegalArgumentException("no output '" + name + "'");
        }
        return t;
    }
}
