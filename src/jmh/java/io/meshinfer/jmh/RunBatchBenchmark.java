package io.meshinfer.jmh;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.typesafe.config.Config;
import io.meshinfer.models.BenchModels;
import io.meshinfer.runtime.LoadedModel;
import io.meshinfer.runtime.ModelRuntime;
import io.meshinfer.runtime.OrtNative;
import io.meshinfer.runtime.RunScratch;
import io.meshinfer.runtime.RuntimeSettings;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * What one batched run costs in the engine's runtime layer against raw ONNX Runtime on the
 * same model, batch and session options, one thread, µs per batch of {@value #BATCH} rows:
 * {@code engine} is {@link LoadedModel#runBatch} (the one-row inputs of 16 requests
 * concatenated into the run's direct buffers, the outputs split back into one tensor per
 * request), {@code raw} is {@code OrtSession.run} on a batch tensor made once, its outputs
 * not read (as the raw baseline of {@code meshinfer bench}). The difference is what the
 * engine adds to every batch before batching, routing or the network.
 *
 * <p>Models: {@code identity} (x FP32 [batch, 4] → Identity, nearly all fixed cost),
 * {@code image} (Identity on [batch, 3, 64, 64], the CNN's input: copying dominates) and
 * {@code mlp} (the bench MLP).
 */
@State(Scope.Benchmark)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 4, time = 2)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class RunBatchBenchmark {
    static final int BATCH = 16;

    @Param({"identity", "image", "mlp"})
    public String model;

    private ModelRuntime runtime;
    private LoadedModel loaded;
    private Path modelDir;
    private OrtSession session;
    private Map<String, OnnxTensor> rawFeed;
    private List<List<NamedTensor>> perRequest;
    private final int[] rows = new int[BATCH];
    private final RunScratch scratch = new RunScratch();

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        Config config = Fixtures.localSystemConfig();
        byte[] bytes = switch (model) {
            case "identity" -> BatcherBenchmark.identityModel();
            case "image" -> BenchModels.identityOf(BenchModels.cnn());
            case "mlp" -> BenchModels.mlp().onnx();
            default -> throw new IllegalArgumentException("unknown model " + model);
        };
        modelDir = Files.createTempDirectory("meshinfer-jmh");
        Path file = Files.write(modelDir.resolve(model + ".onnx"), bytes);
        RuntimeSettings settings = RuntimeSettings.fromConfig(config);
        runtime = new ModelRuntime(settings);
        loaded = runtime.acquire(sha256(bytes), file);

        String input = loaded.signature().inputs().get(0).name();
        long[] rowShape = loaded.signature().inputs().get(0).shape().stream().mapToLong(d -> d.size()).toArray();
        rowShape[0] = 1;
        Random random = new Random(42);
        perRequest = new ArrayList<>(BATCH);
        List<Tensor> parts = new ArrayList<>(BATCH);
        for (int i = 0; i < BATCH; i++) {
            Tensor t = Fixtures.floats(random, rowShape);
            parts.add(t);
            perRequest.add(List.of(new NamedTensor(input, t)));
        }
        Arrays.fill(rows, 1);

        long[] batchShape = rowShape.clone();
        batchShape[0] = BATCH;
        float[] all = new float[Math.toIntExact(Tensor.elementCount(batchShape))];
        int at = 0;
        for (Tensor t : parts) {
            System.arraycopy(t.floats(), 0, all, at, t.floats().length);
            at += t.floats().length;
        }
        OrtEnvironment env = OrtNative.environment();
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) { // as ModelRuntime sets them
            o.setIntraOpNumThreads(settings.intraOpThreads());
            o.setInterOpNumThreads(settings.interOpThreads());
            o.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT); // reference.conf's "all"
            o.addConfigEntry("session.intra_op.allow_spinning", settings.allowSpinning() ? "1" : "0");
            session = env.createSession(bytes, o);
        }
        rawFeed = new HashMap<>();
        rawFeed.put(input, OnnxTensor.createTensor(env, FloatBuffer.wrap(all), batchShape));
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        rawFeed.values().forEach(OnnxTensor::close);
        session.close();
        runtime.release(loaded);
        runtime.close();
        try (var files = Files.list(modelDir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Files.delete(p);
            }
        }
        Files.delete(modelDir);
    }

    @Benchmark
    public void engine(Blackhole bh) {
        bh.consume(loaded.runBatch(perRequest, rows, Set.of(), scratch));
    }

    @Benchmark
    public void raw() throws OrtException {
        session.run(rawFeed).close();
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }
}
