package io.meshinfer.partition;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.meshinfer.api.InferenceException;
import io.meshinfer.runtime.LoadedModel;
import io.meshinfer.runtime.ModelLoadException;
import io.meshinfer.runtime.ModelRuntime;
import io.meshinfer.runtime.TensorSpec;
import io.meshinfer.tensor.NamedTensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Learns the element type, declared shape and size of every value in a model from ONNX
 * Runtime itself, rather than from a shape inference of our own that would know only some
 * operators: the model is loaded once with every node output added as an (untyped) graph
 * output, so ONNX Runtime's type and shape inference declares each one (symbolic dimensions
 * such as "batch" included), and run on one generated sample, which measures each value's
 * size per sample, and on three, which names the batch dimension where inference could not:
 * a dimension left unknown that is 1 for one sample and 3 for three is the batch dimension.
 * Values that are not tensors of a type meshinfer carries (sequences, FLOAT16, strings...)
 * are absent from the result.
 */
final class ValueProbe {
    /** One value: its declared type and shape, its shape for one sample and its bytes per sample. */
    record Value(String name, TensorSpec spec, long[] sampleShape, long bytesPerSample) {
    }

    private ValueProbe() {
    }

    /** The leading symbolic dimension all graph inputs share, else "batch". */
    static String batchSymbol(ModelGraph g) {
        String symbol = null;
        for (ValueInfoProto in : g.inputs) {
            var shape = in.getType().getTensorType().getShape();
            String lead = shape.getDimCount() > 0 ? shape.getDim(0).getDimParam() : "";
            if (lead.isEmpty() || (symbol != null && !symbol.equals(lead))) {
                return "batch";
            }
            symbol = lead;
        }
        return symbol == null ? "batch" : symbol;
    }

    private static TensorSpec nameBatchDims(TensorSpec spec, long[] one, long[] three, String batch) {
        if (three == null || one.length != spec.rank() || three.length != spec.rank()) {
            return spec;
        }
        List<TensorSpec.Dim> dims = new ArrayList<>(spec.shape());
        boolean changed = false;
        for (int i = 0; i < dims.size(); i++) {
            TensorSpec.Dim d = dims.get(i);
            if (d.isDynamic() && d.symbol().isEmpty() && one[i] == 1 && three[i] == 3) {
                dims.set(i, TensorSpec.Dim.symbolic(batch));
                changed = true;
            }
        }
        return changed ? new TensorSpec(spec.name(), spec.dtype(), dims) : spec;
    }

    static Map<String, Value> run(ModelGraph g, ModelRuntime runtime, RandomInputs inputs, Path workDir, long seed)
            throws PartitionException {
        GraphProto.Builder graph = g.model.getGraph().toBuilder();
        Set<String> outputs = new HashSet<>(g.outputs);
        for (NodeProto n : g.nodes) {
            for (String out : n.getOutputList()) {
                if (!out.isEmpty() && outputs.add(out)) {
                    graph.addOutput(ValueInfoProto.newBuilder().setName(out));
                }
            }
        }
        byte[] bytes = g.model.toBuilder().setGraph(graph).build().toByteArray();
        String sha = Partition.sha256(bytes);
        Path file = workDir.resolve("probe-" + sha.substring(0, 16) + ".onnx");
        LoadedModel loaded;
        try {
            Files.write(file, bytes);
            loaded = runtime.acquire(sha, file);
        } catch (IOException e) {
            throw new PartitionException("cannot write a temporary file in " + workDir + ": " + e.getMessage(), e);
        } catch (ModelLoadException e) {
            throw new PartitionException("the model does not load in ONNX Runtime: " + e.getMessage(), e);
        }
        try {
            var sample = inputs.generate(1, seed);
            Map<String, long[]> threeShapes = new HashMap<>();
            for (NamedTensor t : loaded.run(inputs.generate(3, seed), Set.of())) {
                threeShapes.put(t.name(), t.tensor().shape());
            }
            String batch = batchSymbol(g);
            Map<String, Value> values = new HashMap<>();
            for (NamedTensor t : loaded.run(sample, Set.of())) {
                TensorSpec spec = nameBatchDims(loaded.signature().output(t.name()), t.tensor().shape(),
                        threeShapes.get(t.name()), batch);
                values.put(t.name(), new Value(t.name(), spec, t.tensor().shape(), t.tensor().byteSize()));
            }
            for (NamedTensor t : sample) {
                TensorSpec spec = loaded.signature().input(t.name());
                values.put(t.name(), new Value(t.name(), spec, t.tensor().shape(), t.tensor().byteSize()));
            }
            return values;
        } catch (InferenceException e) {
            throw new PartitionException("the model fails on a generated sample (" + e.getMessage() + "); if a"
                    + " symbolic dimension needs a particular size, give it with --dim NAME=SIZE", e);
        } finally {
            runtime.release(loaded);
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                // a temporary file left behind in the work directory, which the caller removes
            }
        }
    }
}
