package io.meshinfer.batching;

import io.meshinfer.api.InferenceError;
import io.meshinfer.tensor.NamedTensor;
import java.util.List;

/**
 * Where the batcher delivers one request's terminal answer. Exactly one of the two
 * methods is called exactly once, on whichever thread finished the work.
 */
public interface ResultSink {
    /**
     * @param outputs the request's outputs
     * @param batchRows the rows of the run that computed them
     * @param queueNanos how long the request waited before its run started
     */
    void success(List<NamedTensor> outputs, int batchRows, long queueNanos);

    void failure(InferenceError error);
}
