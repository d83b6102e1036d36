package io.meshinfer.api;

import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.util.List;

/**
 * The result of one request: its id, the model version that answered, the output
 * tensors, and where and how it was served (node, region, the number of rows in the
 * batch it ran in, whether the node was cut off from its cluster).
 */
public record InferenceResponse(
        String id,
        String model,
        String version,
        List<NamedTensor> outputs,
        String node,
        String region,
        int batchRows,
        boolean islandMode) {

    public InferenceResponse {
        outputs = List.copyOf(outputs);
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
