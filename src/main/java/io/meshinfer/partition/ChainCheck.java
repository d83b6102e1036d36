package io.meshinfer.partition;

import io.meshinfer.api.InferenceException;
import io.meshinfer.runtime.LoadedModel;
import io.meshinfer.runtime.ModelLoadException;
import io.meshinfer.runtime.ModelRuntime;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs the chain of stages against the whole model, both loaded by {@link ModelRuntime} as a
 * node loads them (same checks, same session options): for each seeded sample and each batch
 * size, the whole model's outputs must equal the last stage's outputs in name, order, type and
 * shape (batch size 1 only for a model whose inputs have fixed leading dimensions); integer
 * and boolean values exactly, floating-point values to within
 * {@value #TOLERANCE} · max(1, |expected|). Stage {@code i + 1} is fed exactly the outputs of
 * stage {@code i}, by name.
 */
final class ChainCheck {
    static final double TOLERANCE = 1e-4;
    static final List<Integer> BATCH_SIZES = List.of(1, 3);

    private ChainCheck() {
    }

    static Partition.Check run(byte[] whole, List<byte[]> stages, ModelRuntime runtime, RandomInputs inputs,
            int samples, long seed, Path workDir) throws PartitionException {
        List<LoadedModel> held = new ArrayList<>();
        try {
            LoadedModel reference = load(runtime, whole, workDir, "whole", held);
            List<LoadedModel> chain = new ArrayList<>();
            for (int i = 0; i < stages.size(); i++) {
                try {
                    chain.add(load(runtime, stages.get(i), workDir, "stage-" + i, held));
                } catch (ModelLoadException e) {
                    throw new PartitionException.ChainMismatch("stage " + i + " does not load in ONNX Runtime: "
                            + e.getMessage(), e);
                }
            }
            double maxAbs = 0;
            double maxRel = 0;
            int runs = 0;
            List<Integer> batchSizes = inputs.batchable() ? BATCH_SIZES : List.of(1);
            for (int sample = 0; sample < samples; sample++) {
                for (int batch : batchSizes) {
                    List<NamedTensor> in = inputs.generate(batch, seed + sample);
                    String where = "sample " + sample + ", batch " + batch;
                    List<NamedTensor> expected;
                    try {
                        expected = reference.run(in, Set.of());
                    } catch (InferenceException e) {
                        throw new PartitionException("the whole model fails on a generated input (" + where + "): "
                                + e.getMessage() + "; if a symbolic dimension needs a particular size, give it with"
                                + " --dim NAME=SIZE", e);
                    }
                    List<NamedTensor> actual = runChain(chain, in, where);
                    double[] dev = compare(expected, actual, where);
                    maxAbs = Math.max(maxAbs, dev[0]);
                    maxRel = Math.max(maxRel, dev[1]);
                    runs++;
                }
            }
            return new Partition.Check(samples, batchSizes, runs, maxAbs, maxRel, TOLERANCE);
        } catch (ModelLoadException e) {
            throw new PartitionException("the whole model does not load in ONNX Runtime: " + e.getMessage(), e);
        } finally {
            held.forEach(runtime::release);
        }
    }

    private static LoadedModel load(ModelRuntime runtime, byte[] model, Path workDir, String name,
            List<LoadedModel> held) throws ModelLoadException, PartitionException {
        Path file = workDir.resolve(name + ".onnx");
        try {
            Files.write(file, model);
        } catch (IOException e) {
            throw new PartitionException("cannot write a temporary file in " + workDir + ": " + e.getMessage(), e);
        }
        LoadedModel m = runtime.acquire(Partition.sha256(model), file);
        held.add(m);
        return m;
    }

    private static List<NamedTensor> runChain(List<LoadedModel> chain, List<NamedTensor> inputs, String where)
            throws PartitionException {
        Map<String, Tensor> available = new HashMap<>();
        inputs.forEach(t -> available.put(t.name(), t.tensor()));
        List<NamedTensor> out = inputs;
        for (int i = 0; i < chain.size(); i++) {
            LoadedModel stage = chain.get(i);
            List<NamedTensor> feed = new ArrayList<>();
            for (var spec : stage.signature().inputs()) {
                Tensor t = available.get(spec.name());
                if (t == null) {
                    throw new PartitionException.ChainMismatch("stage " + i + " needs '" + spec.name()
                            + "', which " + (i == 0 ? "the model's inputs do" : "stage " + (i - 1) + " does")
                            + " not provide");
                }
                feed.add(new NamedTensor(spec.name(), t));
            }
            try {
                out = stage.run(feed, Set.of());
            } catch (InferenceException e) {
                throw new PartitionException.ChainMismatch("stage " + i + " fails (" + where + "): " + e.getMessage(), e);
            }
            available.clear();
            out.forEach(t -> available.put(t.name(), t.tensor()));
        }
        return out;
    }

    /** {max absolute difference, max relative difference} over floating-point elements. */
    private static double[] compare(List<NamedTensor> expected, List<NamedTensor> actual, String where)
            throws PartitionException {
        List<String> e = expected.stream().map(NamedTensor::name).toList();
        List<String> a = actual.stream().map(NamedTensor::name).toList();
        if (!e.equals(a)) {
            throw new PartitionException.ChainMismatch("the last stage's outputs " + a + " are not the model's outputs "
                    + e);
        }
        double maxAbs = 0;
        double maxRel = 0;
        for (int k = 0; k < expected.size(); k++) {
            String name = e.get(k);
            Tensor x = expected.get(k).tensor();
            Tensor y = actual.get(k).tensor();
            if (x.dtype() != y.dtype() || !Arrays.equals(x.shape(), y.shape())) {
                throw new PartitionException.ChainMismatch("output '" + name + "' (" + where + "): the chain gives "
                        + y.dtype() + Arrays.toString(y.shape()) + ", the whole model " + x.dtype()
                        + Arrays.toString(x.shape()));
            }
            boolean floating = x.dtype().isFloatingPoint();
            for (int i = 0; i < x.size(); i++) {
                double u = x.getAsDouble(i);
                double v = y.getAsDouble(i);
                if (Double.isNaN(u) || Double.isNaN(v)) {
                    if (Double.isNaN(u) != Double.isNaN(v)) {
                        throw mismatch(name, where, i, u, v);
                    }
                    continue;
                }
                if (!floating) {
                    if (u != v) {
                        throw mismatch(name, where, i, u, v);
                    }
                    continue;
                }
                double abs = u == v ? 0 : Math.abs(u - v); // equal infinities differ by 0
                double rel = abs / Math.max(1.0, Math.abs(u));
                if (!(rel <= TOLERANCE)) {
                    throw mismatch(name, where, i, u, v);
                }
                maxAbs = Math.max(maxAbs, abs);
                maxRel = Math.max(maxRel, rel);
            }
        }
        return new double[] {maxAbs, maxRel};
    }

    private static PartitionException mismatch(String output, String where, int index, double expected, double got) {
        return new PartitionException.ChainMismatch("the chain of stages deviates from the whole model: output '"
                + output + "' element " + index + " (" + where + ") is " + got + ", the whole model gives " + expected
                + " (tolerance " + TOLERANCE + " x max(1, |expected|))");
    }
}
