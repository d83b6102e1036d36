package io.meshinfer.bench;

import io.meshinfer.tensor.NamedTensor;
import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * A system under test. {@link #send} must not block and must complete exactly once, with
 * a {@link Sample} (never exceptionally: failures are samples too).
 */
public interface BenchTarget extends AutoCloseable {
    /** One line naming what is measured, for reports. */
    String describe();

    CompletionStage<Sample> send(List<NamedTensor> inputs, long timeoutMillis);

    @Override
    default void close() throws Exception {
    }
}
