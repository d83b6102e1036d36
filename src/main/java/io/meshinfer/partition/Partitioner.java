package io.meshinfer.partition;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.UnsafeByteOperations;
import com.google.protobuf.InvalidProtocolBufferException;
import io.meshinfer.runtime.ModelLoadException;
import io.meshinfer.runtime.ModelRuntime;
import io.meshinfer.runtime.OnnxModelCheck;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Splits an ONNX model into K pipeline stages, each a self-contained ONNX model, and accepts
 * the split only if the chain of stages reproduces the whole model.
 *
 * <p>How: the nodes are put in topological order ({@link ModelGraph}); ONNX Runtime declares
 * and measures every value ({@link ValueProbe}); each node gets an estimated cost in FLOPs
 * per sample ({@link CostModel}); each position between two nodes is a candidate cut, and
 * what crosses it is every value produced before it (graph inputs included) that a later
 * node reads or that is a graph output, since graph outputs produced early are carried to
 * the last stage. Cut points are chosen by {@link CutSelector} (balance first, then fewest
 * bytes crossing) or given as tensor names (cut right after the node producing each). Every
 * stage declares the values crossing into it as its inputs (stage 0: the model's inputs)
 * and the values crossing out of it as its outputs (the last stage: the model's outputs, in
 * the model's order); it carries the initializers its nodes read (shared ones are copied),
 * the model's opset imports, IR version, domain, functions and metadata. Finally
 * {@link ChainCheck} runs the chain against the whole model on seeded random inputs.
 *
 * <p>Thread-safe; sessions are loaded through the given {@link ModelRuntime}, released again
 * before a call returns.
 */
public final class Partitioner {
    /** Metadata keys every stage model carries. */
    public static final String META_STAGE = "meshinfer.stage";
    public static final String META_SOURCE = "meshinfer.source-sha256";

    private final ModelRuntime runtime;

    public Partitioner(ModelRuntime runtime) {
        this.runtime = runtime;
    }

    /**
     * What to split into.
     *
     * @param stages the number of stages K (at least 1); 0 means "one more than the cuts"
     * @param cuts tensor names to cut after (empty: choose the cut points)
     * @param checkSamples seeded samples for the chain check, each at batch sizes 1 and 3 (at least 1)
     * @param balanceTolerance how far above the best achievable maximum stage cost a split may
     *     go to send fewer bytes across its cuts (0.1 = 10 %)
     * @param dims sizes for symbolic input dimensions other than the leading (batch) one
     * @param seed the random inputs' seed
     */
    public record Options(int stages, List<String> cuts, int checkSamples, double balanceTolerance,
                          Map<String, Long> dims, long seed) {
        public static final int DEFAULT_CHECK_SAMPLES = 2;
        public static final double DEFAULT_BALANCE_TOLERANCE = 0.1;
        public static final long DEFAULT_SEED = 20260611L;

        public Options {
            cuts = List.copyOf(cuts);
            dims = Map.copyOf(dims);
        }

        /** K stages, cut points chosen, default check. */
        public static Options stages(int k) {
            return new Options(k, List.of(), DEFAULT_CHECK_SAMPLES, DEFAULT_BALANCE_TOLERANCE, Map.of(), DEFAULT_SEED);
        }

        /** Stages cut right after the nodes producing these tensors. */
        public static Options cuts(List<String> tensorNames) {
            return new Options(0, tensorNames, DEFAULT_CHECK_SAMPLES, DEFAULT_BALANCE_TOLERANCE, Map.of(),
                    DEFAULT_SEED);
        }

        public Options withCheckSamples(int n) {
            return new Options(stages, cuts, n, balanceTolerance, dims, seed);
        }

        public Options withDims(Map<String, Long> d) {
            return new Options(stages, cuts, checkSamples, balanceTolerance, d, seed);
        }

        public Options withBalanceTolerance(double t) {
            return new Options(stages, cuts, checkSamples, t, dims, seed);
        }
    }

    /**
     * Splits the model in {@code file}. The file is refused before it is parsed if it is
     * larger than {@code meshinfer.runtime.max-model-bytes}, and must pass
     * {@link OnnxModelCheck}, as a deployed model must.
     */
    public Partition partition(Path file, Options options) throws PartitionException {
        long size;
        try {
            size = Files.size(file);
        } catch (IOException e) {
            throw new PartitionException("model file " + file + " cannot be read: " + e.getMessage(), e);
        }
        if (size == 0) {
            throw new PartitionException("the model file " + file + " is empty");
        }
        long limit = runtime.settings().maxModelBytes();
        if (size > limit) {
            throw new PartitionException("the model file has " + size + " bytes, more than the limit of " + limit
                    + " (meshinfer.runtime.max-model-bytes)");
        }
        validate(options);
        byte[] bytes;
        try {
            OnnxModelCheck.check(file);
            bytes = Files.readAllBytes(file);
        } catch (ModelLoadException e) {
            throw new PartitionException(e.getMessage(), e);
        } catch (IOException e) {
            throw new PartitionException("model file " + file + " cannot be read: " + e.getMessage(), e);
        }
        return withWorkDir(work -> split(bytes, parse(bytes), options, work));
    }

    /** Splits a model given as bytes; the same checks as {@link #partition(Path, Options)}. */
    public Partition partition(byte[] model, Options options) throws PartitionException {
        validate(options);
        long limit = runtime.settings().maxModelBytes();
        if (model.length > limit) {
            throw new PartitionException("the model has " + model.length + " bytes, more than the limit of " + limit
                    + " (meshinfer.runtime.max-model-bytes)");
        }
        return withWorkDir(work -> {
            Path source = work.resolve("source.onnx");
            try {
                Files.write(source, model);
                OnnxModelCheck.check(source);
                Files.delete(source);
            } catch (ModelLoadException e) {
                throw new PartitionException(e.getMessage(), e);
            } catch (IOException e) {
                throw new PartitionException("cannot write a temporary file in " + work + ": " + e.getMessage(), e);
            }
            return split(model, parse(model), options, work);
        });
    }

    private interface InWorkDir {
        Partition run(Path work) throws PartitionException;
    }

    /** Runs {@code body} with a fresh temporary directory, deleted afterwards whatever happens. */
    private static Partition withWorkDir(InWorkDir body) throws PartitionException {
        Path work;
        try {
            work = Files.createTempDirectory("meshinfer-partition");
        } catch (IOException e) {
            throw new PartitionException("cannot create a temporary directory: " + e.getMessage(), e);
        }
        try {
            return body.run(work);
        } finally {
            deleteTree(work);
        }
    }

    private static ModelProto parse(byte[] model) throws PartitionException {
        try {
            return ModelProto.parseFrom(model);
        } catch (InvalidProtocolBufferException e) {
            throw new PartitionException("not a valid ONNX model: " + e.getMessage(), e);
        }
    }

    private static void validate(Options o) throws PartitionException {
        if (o.cuts().isEmpty() && o.stages() < 1) {
            throw new PartitionException("the number of stages must be at least 1, got " + o.stages());
        }
        if (!o.cuts().isEmpty() && o.stages() != 0 && o.stages() != o.cuts().size() + 1) {
            throw new PartitionException(o.cuts().size() + " cuts make " + (o.cuts().size() + 1) + " stages, not "
                    + o.stages());
        }
        if (o.checkSamples() < 1) {
            throw new PartitionException("the chain check needs at least 1 sample, got " + o.checkSamples());
        }
        if (!(o.balanceTolerance() >= 0) || o.balanceTolerance() > 10) {
            throw new PartitionException("the balance tolerance must be between 0 and 10, got " + o.balanceTolerance());
        }
        for (var e : o.dims().entrySet()) {
            if (e.getValue() < 1 || e.getValue() > 1 << 20) {
                throw new PartitionException("dimension " + e.getKey() + " = " + e.getValue()
                        + " is out of range (1 to 1048576)");
            }
        }
    }

    private Partition split(byte[] bytes, ModelProto model, Options options, Path work) throws PartitionException {
        ModelGraph g = ModelGraph.of(model);
        int n = g.size();
        int k = options.cuts().isEmpty() ? options.stages() : options.cuts().size() + 1;
        if (k > n) {
            throw new PartitionException("cannot make " + k + " stages of a model with " + n
                    + (n == 1 ? " node" : " nodes") + ": every stage needs at least one node");
        }
        String sha = Partition.sha256(bytes);
        RandomInputs inputs = RandomInputs.of(g, options.dims());
        Map<String, ValueProbe.Value> values = ValueProbe.run(g, runtime, inputs, work, options.seed());

        Map<String, long[]> shapes = new HashMap<>();
        g.initializers.forEach((name, t) -> shapes.put(name, t.getDimsList().stream().mapToLong(Long::longValue)
                .toArray()));
        values.forEach((name, v) -> shapes.put(name, v.sampleShape()));
        long[] cost = CostModel.nodeCosts(g, shapes);

        Liveness live = new Liveness(g, values);
        int[] cuts;
        String selection;
        if (options.cuts().isEmpty()) {
            selection = "balanced";
            try {
                cuts = CutSelector.choose(cost, live.cutBytes, k, options.balanceTolerance());
            } catch (IllegalArgumentException e) {
                throw new PartitionException("cannot split into " + k + " stages: " + e.getMessage()
                        + " (a cut is not allowed where a value meshinfer cannot carry between stages crosses it)");
            }
        } else {
            selection = "explicit";
            cuts = explicitCuts(g, live, options.cuts());
        }

        List<Partition.Stage> stages = new ArrayList<>();
        List<Partition.Cut> cutInfo = new ArrayList<>();
        List<byte[]> stageBytes = new ArrayList<>();
        int[] bounds = new int[k + 1];
        System.arraycopy(cuts, 0, bounds, 1, cuts.length);
        bounds[k] = n;
        for (int s = 0; s < k; s++) {
            ModelProto stage = k == 1 ? model : buildStage(g, live, sha, s, k, bounds[s], bounds[s + 1]);
            byte[] b = k == 1 ? bytes : stage.toByteArray();
            stageBytes.add(b);
            long params = 0;
            for (TensorProto t : stage.getGraph().getInitializerList()) {
                params += CostModel.tensorBytes(t);
            }
            long flops = 0;
            for (int i = bounds[s]; i < bounds[s + 1]; i++) {
                flops += cost[i];
            }
            stages.add(new Partition.Stage(s, UnsafeByteOperations.unsafeWrap(b), // b is never written again
                     Partition.sha256(b),
                    bounds[s + 1] - bounds[s], label(g.nodes.get(bounds[s]), bounds[s]),
                    label(g.nodes.get(bounds[s + 1] - 1), bounds[s + 1] - 1),
                    tensors(stage.getGraph().getInputList(), g, values),
                    tensors(stage.getGraph().getOutputList(), g, values), params, flops));
            if (s > 0) {
                List<Partition.StageTensor> crossing = tensors(live.crossing(bounds[s]).stream()
                        .map(v -> live.declaration(v)).toList(), g, values);
                cutInfo.add(new Partition.Cut(s - 1, bounds[s], label(g.nodes.get(bounds[s] - 1), bounds[s] - 1),
                        crossing, crossing.stream().mapToLong(Partition.StageTensor::bytesPerSample).sum()));
            }
        }
        Partition.Check check = ChainCheck.run(bytes, stageBytes, runtime, inputs, options.checkSamples(),
                options.seed(), work);
        return new Partition(sha, bytes.length, n, selection, options.balanceTolerance(), stages, cutInfo, check);
    }

    private static String label(NodeProto node, int index) {
        return node.getName().isEmpty() ? node.getOpType() + "#" + index : node.getName();
    }

    private static List<Partition.StageTensor> tensors(List<ValueInfoProto> declared, ModelGraph g,
            Map<String, ValueProbe.Value> values) {
        List<Partition.StageTensor> out = new ArrayList<>();
        for (ValueInfoProto v : declared) {
            ValueProbe.Value probed = values.get(v.getName());
            long bytes = probed != null ? probed.bytesPerSample()
                    : g.initializers.containsKey(v.getName()) ? CostModel.tensorBytes(g.initializers.get(v.getName()))
                    : 0;
            out.add(new Partition.StageTensor(v.getName(), OnnxTypes.datatype(v), OnnxTypes.shape(v), bytes));
        }
        return out;
    }

    private static int[] explicitCuts(ModelGraph g, Liveness live, List<String> names) throws PartitionException {
        int n = g.size();
        Map<Integer, String> byPosition = new HashMap<>();
        for (String name : names) {
            if (name.isBlank()) {
                throw new PartitionException("an empty cut name; give tensor names separated by commas");
            }
            Integer producer = g.producer.get(name);
            if (producer == null) {
                if (g.isInitializer(name)) {
                    throw new PartitionException("cannot cut after '" + name + "': it is an initializer, not produced by"
                            + " a node");
                }
                if (g.inputs.stream().anyMatch(v -> v.getName().equals(name))) {
                    throw new PartitionException("cannot cut after '" + name + "': it is a graph input, not produced by"
                            + " a node");
                }
                throw new PartitionException("unknown cut tensor '" + name + "': no node of the model produces it"
                        + suggestions(g, name));
            }
            int position = producer + 1;
            if (position >= n) {
                throw new PartitionException("cannot cut after '" + name + "': the last node produces it, so the last"
                        + " stage would be empty");
            }
            String other = byPosition.put(position, name);
            if (other != null) {
                throw new PartitionException("cuts '" + other + "' and '" + name + "' are at the same place (after node "
                        + g.describe(producer) + "); each cut must make a stage of its own");
            }
            if (live.cutBytes[position] < 0) {
                throw new PartitionException("cannot cut after '" + name + "': " + live.blocker(position));
            }
        }
        return byPosition.keySet().stream().mapToInt(Integer::intValue).sorted().toArray();
    }

    private static String suggestions(ModelGraph g, String name) {
        String lower = name.toLowerCase(java.util.Locale.ROOT);
        List<String> close = g.producer.keySet().stream()
                .filter(v -> v.toLowerCase(java.util.Locale.ROOT).contains(lower)
                        || lower.contains(v.toLowerCase(java.util.Locale.ROOT)))
                .sorted(Comparator.comparingInt(v -> g.producer.get(v))).limit(5).toList();
        return close.isEmpty() ? "" : " (similar names: " + String.join(", ", close) + ")";
    }

    private static ModelProto buildStage(ModelGraph g, Liveness live, String sourceSha, int s, int k, int from, int to) {
        GraphProto source = g.model.getGraph();
        GraphProto.Builder graph = GraphProto.newBuilder()
                .setName(source.getName() + "_stage" + s)
                .setDocString("stage " + s + " of " + k + " of " + source.getName());
        List<ValueInfoProto> inputs = s == 0 ? g.inputs
                : live.crossing(from).stream().map(live::declaration).toList();
        List<ValueInfoProto> outputs = s == k - 1 ? source.getOutputList()
                : live.crossing(to).stream().map(live::declaration).toList();
        graph.addAllInput(inputs);
        graph.addAllOutput(outputs);
        Set<String> used = new LinkedHashSet<>();
        Set<String> produced = new HashSet<>();
        for (int i = from; i < to; i++) {
            graph.addNode(g.nodes.get(i));
            used.addAll(g.reads.get(i));
            produced.addAll(g.nodes.get(i).getOutputList());
        }
        outputs.forEach(v -> used.add(v.getName()));
        boolean initializersAsInputs = g.model.getIrVersion() < 4;
        for (String name : used) {
            TensorProto t = g.initializers.get(name);
            if (t != null) {
                graph.addInitializer(t);
                if (initializersAsInputs) {
                    graph.addInput(initializerInput(t));
                }
            }
            SparseTensorProto sp = g.sparseInitializers.get(name);
            if (sp != null) {
                graph.addSparseInitializer(sp);
            }
        }
        Set<String> boundary = new HashSet<>();
        inputs.forEach(v -> boundary.add(v.getName()));
        outputs.forEach(v -> boundary.add(v.getName()));
        for (ValueInfoProto v : source.getValueInfoList()) {
            if (produced.contains(v.getName()) && !boundary.contains(v.getName())) {
                graph.addValueInfo(v);
            }
        }
        List<StringStringEntryProto> meta = new ArrayList<>();
        for (StringStringEntryProto e : g.model.getMetadataPropsList()) {
            if (!e.getKey().equals(META_STAGE) && !e.getKey().equals(META_SOURCE)) {
                meta.add(e);
            }
        }
        meta.add(StringStringEntryProto.newBuilder().setKey(META_STAGE).setValue(s + "/" + k).build());
        meta.add(StringStringEntryProto.newBuilder().setKey(META_SOURCE).setValue(sourceSha).build());
        return g.model.toBuilder()
                .setGraph(graph)
                .clearTrainingInfo()
                .clearMetadataProps()
                .addAllMetadataProps(meta)
                .build();
    }

    private static ValueInfoProto initializerInput(TensorProto t) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        t.getDimsList().forEach(d -> shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d)));
        return ValueInfoProto.newBuilder().setName(t.getName()).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(t.getDataType()).setShape(shape))).build();
    }

    /**
     * Which values are live across each cut position: a value defined at position d (a graph
     * input: -1, a node output: its producer's index) crosses every cut p with d < p ≤ u,
     * where u is the last node that reads it, or N when it is a graph output.
     */
    private static final class Liveness {
        private final ModelGraph g;
        private final Map<String, ValueProbe.Value> values;
        /** Values that may cross a cut, in definition order: graph inputs, then node outputs. */
        private final List<String> ordered = new ArrayList<>();
        private final Map<String, Integer> defined = new HashMap<>();
        private final Map<String, Integer> lastUse = new HashMap<>();
        /** Per cut position 1..N-1: bytes per sample crossing it, -1 where it may not be cut. */
        final long[] cutBytes;

        Liveness(ModelGraph g, Map<String, ValueProbe.Value> values) {
            this.g = g;
            this.values = values;
            int n = g.size();
            for (ValueInfoProto in : g.inputs) {
                ordered.add(in.getName());
                defined.put(in.getName(), -1);
            }
            for (int i = 0; i < n; i++) {
                for (String out : g.nodes.get(i).getOutputList()) {
                    if (!out.isEmpty()) {
                        ordered.add(out);
                        defined.put(out, i);
                    }
                }
            }
            for (int i = 0; i < n; i++) {
                for (String in : g.reads.get(i)) {
                    lastUse.merge(in, i, Math::max);
                }
            }
            for (String out : g.outputs) {
                lastUse.put(out, n);
            }
            long[] diff = new long[n + 2];
            int[] blocked = new int[n + 2];
            for (String v : ordered) {
                Integer u = lastUse.get(v);
                int d = defined.get(v);
                if (u == null || u <= d) {
                    continue;
                }
                ValueProbe.Value probed = values.get(v);
                if (probed == null) {
                    blocked[d + 1]++;
                    blocked[u + 1]--;
                } else {
                    diff[d + 1] += probed.bytesPerSample();
                    diff[u + 1] -= probed.bytesPerSample();
                }
            }
            cutBytes = new long[n + 1];
            long running = 0;
            int blocking = 0;
            for (int p = 0; p <= n; p++) {
                running += diff[p];
                blocking += blocked[p];
                cutBytes[p] = blocking > 0 ? -1 : running;
            }
            cutBytes[0] = -1;
            cutBytes[n] = -1;
        }

        /** The values crossing the cut at {@code position}, in definition order. */
        List<String> crossing(int position) {
            List<String> out = new ArrayList<>();
            for (String v : ordered) {
                Integer u = lastUse.get(v);
                if (u != null && defined.get(v) < position && position <= u) {
                    out.add(v);
                }
            }
            return out;
        }

        /** Why a cut at {@code position} is not allowed. */
        String blocker(int position) {
            for (String v : crossing(position)) {
                if (!values.containsKey(v)) {
                    return "value '" + v + "' would cross it, and it is not a tensor of a type meshinfer carries between"
                            + " stages (" + Arrays.toString(io.meshinfer.tensor.DType.values()) + ")";
                }
            }
            return "it is not a valid cut position";
        }

        /** How a stage declares {@code name} as an input or output. */
        ValueInfoProto declaration(String name) {
            for (ValueInfoProto in : g.inputs) {
                if (in.getName().equals(name)) {
                    return in;
                }
            }
            ValueInfoProto declared = g.declared.get(name);
            if (declared != null && g.outputs.contains(name) && declared.getType().hasTensorType()
                    && declared.getType().getTensorType().getElemType() != 0) {
                return declared;
            }
            return OnnxTypes.valueInfo(name, values.get(name).spec());
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    // best effort: a temporary file left behind
                }
            });
        } catch (IOException e) {
            // best effort
        }
    }
}
