package io.meshinfer.jmh;

import io.meshinfer.runtime.BatchAssembler;
import io.meshinfer.tensor.NamedTensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@link BatchAssembler} on heap tensors: concatenating 16 MLP requests of [1, 256] FP32
 * into one [16, 256] input, and splitting a [16, 10] FP32 output back into 16 results.
 *
 * <p>The batcher itself does not go through these methods: {@code LoadedModel.runBatch}
 * concatenates straight into direct buffers and splits from ONNX Runtime's output
 * ({@code OrtTensors}, package-private); that path is measured inside
 * {@link BatcherBenchmark#burstDirectRunBatch}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 3, time = 2)
public class BatchAssemblerBenchmark {
    private static final int REQUESTS = 16;

    private List<List<NamedTensor>> requests;
    private List<NamedTensor> outputs;
    private int[] rows;

    @Setup
    public void setUp() {
        Random random = new Random(42);
        requests = new ArrayList<>(REQUESTS);
        for (int i = 0; i < REQUESTS; i++) {
            requests.add(List.of(new NamedTensor("x", Fixtures.floats(random, 1, 256))));
        }
        outputs = List.of(new NamedTensor("y", Fixtures.floats(random, REQUESTS, 10)));
        rows = new int[REQUESTS];
        Arrays.fill(rows, 1);
    }

    @Benchmark
    public List<NamedTensor> concat16() {
        return BatchAssembler.concat(requests);
    }

    @Benchmark
    public List<List<NamedTensor>> split16() {
        return BatchAssembler.split(outputs, rows);
    }
}
