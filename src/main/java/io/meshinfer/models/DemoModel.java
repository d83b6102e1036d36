package io.meshinfer.models;

import static io.meshinfer.models.OnnxModelBuilder.dims;

import io.meshinfer.models.OnnxModelBuilder.Attribute;
import io.meshinfer.tensor.DType;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/**
 * The demo model bundled with meshinfer, "sensor-health": a small FP32 classifier that
 * maps eight standardized sensor readings to the probabilities of three health classes.
 *
 * <pre>
 *   features [batch, 8] → Gemm(8→32) → Relu → Gemm(32→3) → Softmax → probabilities [batch, 3]
 * </pre>
 *
 * <p>Its weights come from a {@link Random} with a fixed seed, not from training: the model
 * exists to exercise serving end to end with a realistic signature, and its answers carry no
 * meaning beyond being deterministic. The bundled file {@value #RESOURCE} is exactly what
 * {@link #build()} returns (a test holds them equal); regenerate it with {@link #main}.
 */
public final class DemoModel {
    public static final String NAME = "sensor-health";
    public static final String RESOURCE = "/models/sensor-health.onnx";
    public static final String INPUT = "features";
    public static final String OUTPUT = "probabilities";
    public static final int FEATURES = 8;
    public static final int HIDDEN = 32;
    /** Class labels, in the order of the output's second axis. */
    public static final List<String> CLASSES = List.of("healthy", "degraded", "failing");

    private static final long WEIGHT_SEED = 20240611L;

    private DemoModel() {
    }

    /** The model's ONNX bytes, generated from the fixed seed. */
    public static byte[] build() {
        return build(WEIGHT_SEED);
    }

    /**
     * The same model with other weights, drawn from {@code seed}: the same signature (it
     * answers the same requests), different bytes (another artifact), e.g. for a new version.
     */
    public static byte[] build(long seed) {
        Random random = new Random(seed);
        int classes = CLASSES.size();
        return OnnxModelBuilder.create("sensor_health")
                .docString("meshinfer demo: sensor readings to health-class probabilities (seeded, untrained)")
                .input(INPUT, DType.FP32, dims("batch", FEATURES))
                .output(OUTPUT, DType.FP32, dims("batch", classes))
                .initializer("fc1.weight", gaussian(random, FEATURES * HIDDEN, Math.sqrt(2.0 / FEATURES)),
                        FEATURES, HIDDEN)
                .initializer("fc1.bias", gaussian(random, HIDDEN, 0.1), HIDDEN)
                .initializer("fc2.weight", gaussian(random, HIDDEN * classes, Math.sqrt(1.0 / HIDDEN)),
                        HIDDEN, classes)
                .initializer("fc2.bias", gaussian(random, classes, 0.1), classes)
                .node("Gemm", List.of(INPUT, "fc1.weight", "fc1.bias"), "fc1")
                .node("Relu", List.of("fc1"), "hidden")
                .node("Gemm", List.of("hidden", "fc2.weight", "fc2.bias"), "logits")
                .node("Softmax", List.of("logits"), OUTPUT, Attribute.of("axis", 1))
                .toBytes();
    }

    /**
     * A broken version with the demo model's signature: it loads, but every run fails in
     * ONNX Runtime (a Reshape to a fixed shape no batch of {@value #FEATURES} features fits),
     * as a model exported with a wrong shape does. For rollback tests and demos.
     */
    public static byte[] failing() {
        return OnnxModelBuilder.create("sensor_health_broken")
                .docString("meshinfer test: the demo model's signature, but every run fails")
                .input(INPUT, DType.FP32, dims("batch", FEATURES))
                .output(OUTPUT, DType.FP32, dims("batch", CLASSES.size()))
                .initializer("bad_shape", new long[] {5, CLASSES.size()}, 2)
                .node("Reshape", List.of(INPUT, "bad_shape"), "reshaped")
                .node("Softmax", List.of("reshaped"), OUTPUT, Attribute.of("axis", 1))
                .toBytes();
    }

    /**
     * The bundled model file.
     *
     * @throws IllegalStateException if the resource is missing from the classpath
     */
    public static byte[] load() {
        try (InputStream in = DemoModel.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("demo model resource " + RESOURCE + " is not on the classpath");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read demo model resource " + RESOURCE, e);
        }
    }

    /**
     * One deterministic input row of {@value #FEATURES} standardized readings; the same seed
     * always gives the same row, different seeds give independent-looking rows.
     */
    public static float[] sampleFeatures(long seed) {
        Random random = new Random(seed);
        float[] row = new float[FEATURES];
        for (int i = 0; i < FEATURES; i++) {
            row[i] = (float) random.nextGaussian();
        }
        return row;
    }

    /**
     * Writes the model to {@code args[0]}. Run with
     * {@code src/main/resources/models/sensor-health.onnx} to regenerate the bundled file
     * after changing {@link #build()}.
     */
    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: DemoModel <output.onnx>");
            System.exit(2);
        }
        Path target = Path.of(args[0]);
        Path parent = target.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.write(target, build());
        System.out.println("wrote " + target);
    }

    private static float[] gaussian(Random random, int n, double scale) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) (random.nextGaussian() * scale);
        }
        return out;
    }
}
