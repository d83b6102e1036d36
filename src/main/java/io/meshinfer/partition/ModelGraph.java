package io.meshinfer.partition;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;

/**
 * The main graph of a model as the partitioner sees it: nodes in a topological order (the
 * file's own order when it is one, as ONNX requires, otherwise the stable order closest to
 * it), who produces and who reads each value, and the graph's inputs, initializers and
 * outputs. Values read by a node's subgraphs (If, Loop, Scan bodies) from the outer scope
 * count as that node's inputs. Building one refuses graphs with a cycle, a value defined
 * twice or a value that nothing defines.
 */
final class ModelGraph {
    final ModelProto model;
    /** Nodes in topological order. */
    final List<NodeProto> nodes;
    /** Per node (topological index): the values it reads, explicit and from subgraphs, no duplicates. */
    final List<List<String>> reads;
    /** Graph inputs that are not initializers, in declaration order. */
    final List<ValueInfoProto> inputs;
    final Map<String, TensorProto> initializers;
    final Map<String, SparseTensorProto> sparseInitializers;
    /** Graph output names, in declaration order. */
    final List<String> outputs;
    /** Value name → topological index of the node producing it. */
    final Map<String, Integer> producer;
    /** Declared types: graph inputs, outputs and value_info, by name. */
    final Map<String, ValueInfoProto> declared;
    /** Whether the file's node order was already topological. */
    final boolean givenOrderTopological;

    private ModelGraph(ModelProto model, List<NodeProto> nodes, List<List<String>> reads, List<ValueInfoProto> inputs,
            Map<String, TensorProto> initializers, Map<String, SparseTensorProto> sparse, List<String> outputs,
            Map<String, Integer> producer, Map<String, ValueInfoProto> declared, boolean givenOrderTopological) {
        this.model = model;
        this.nodes = nodes;
        this.reads = reads;
        this.inputs = inputs;
        this.initializers = initializers;
        this.sparseInitializers = sparse;
        this.outputs = outputs;
        this.producer = producer;
        this.declared = declared;
        this.givenOrderTopological = givenOrderTopological;
    }

    static ModelGraph of(ModelProto model) throws PartitionException {
        if (!model.hasGraph()) {
            throw new PartitionException("not a valid ONNX model: it has no graph");
        }
        GraphProto g = model.getGraph();
        if (g.getNodeCount() == 0) {
            throw new PartitionException("the model's graph has no nodes: nothing to split");
        }
        Map<String, TensorProto> inits = new LinkedHashMap<>();
        for (TensorProto t : g.getInitializerList()) {
            if (inits.put(t.getName(), t) != null) {
                throw new PartitionException("invalid graph: initializer '" + t.getName() + "' is defined twice");
            }
        }
        Map<String, SparseTensorProto> sparse = new LinkedHashMap<>();
        for (SparseTensorProto s : g.getSparseInitializerList()) {
            String name = s.getValues().getName();
            if (inits.containsKey(name) || sparse.put(name, s) != null) {
                throw new PartitionException("invalid graph: initializer '" + name + "' is defined twice");
            }
        }
        Map<String, ValueInfoProto> declared = new HashMap<>();
        g.getValueInfoList().forEach(v -> declared.put(v.getName(), v));
        g.getOutputList().forEach(v -> declared.put(v.getName(), v));
        List<ValueInfoProto> inputs = new ArrayList<>();
        Set<String> defined = new HashSet<>(inits.keySet());
        defined.addAll(sparse.keySet());
        for (ValueInfoProto in : g.getInputList()) {
            declared.put(in.getName(), in);
            if (inits.containsKey(in.getName()) || sparse.containsKey(in.getName())) {
                continue; // an initializer also listed as an input (IR < 4 style): a constant here
            }
            if (!defined.add(in.getName())) {
                throw new PartitionException("invalid graph: graph input '" + in.getName() + "' is declared twice");
            }
            inputs.add(in);
        }

        int n = g.getNodeCount();
        List<List<String>> givenReads = new ArrayList<>(n);
        Map<String, Integer> givenProducer = new HashMap<>();
        for (int i = 0; i < n; i++) {
            NodeProto node = g.getNode(i);
            Set<String> r = new LinkedHashSet<>();
            for (String in : node.getInputList()) {
                if (!in.isEmpty()) {
                    r.add(in);
                }
            }
            for (AttributeProto a : node.getAttributeList()) {
                if (a.hasG()) {
                    outerReferences(a.getG(), r);
                }
                for (GraphProto sub : a.getGraphsList()) {
                    outerReferences(sub, r);
                }
            }
            givenReads.add(List.copyOf(r));
            for (String out : node.getOutputList()) {
                if (out.isEmpty()) {
                    continue; // an omitted optional output
                }
                if (defined.contains(out) || givenProducer.containsKey(out)) {
                    throw new PartitionException("invalid graph: value '" + out + "' is defined twice (again by node "
                            + describe(node, i) + ")");
                }
                givenProducer.put(out, i);
            }
        }
        for (int i = 0; i < n; i++) {
            for (String in : givenReads.get(i)) {
                if (!defined.contains(in) && !givenProducer.containsKey(in)) {
                    throw new PartitionException("invalid graph: node " + describe(g.getNode(i), i) + " reads '" + in
                            + "', which no node produces and which is neither a graph input nor an initializer");
                }
            }
        }
        List<String> outputs = new ArrayList<>();
        for (ValueInfoProto out : g.getOutputList()) {
            if (!defined.contains(out.getName()) && !givenProducer.containsKey(out.getName())) {
                throw new PartitionException("invalid graph: graph output '" + out.getName()
                        + "' is produced by no node and is neither a graph input nor an initializer");
            }
            if (outputs.contains(out.getName())) {
                throw new PartitionException("invalid graph: graph output '" + out.getName() + "' is declared twice");
            }
            outputs.add(out.getName());
        }

        // Kahn's algorithm, always taking the ready node that comes first in the file: the
        // file's order when it is topological, the nearest stable order otherwise.
        List<Set<Integer>> dependents = new ArrayList<>(n);
        int[] missing = new int[n];
        boolean topological = true;
        for (int i = 0; i < n; i++) {
            dependents.add(new LinkedHashSet<>());
        }
        for (int i = 0; i < n; i++) {
            Set<Integer> deps = new HashSet<>();
            for (String in : givenReads.get(i)) {
                Integer p = givenProducer.get(in);
                if (p != null) {
                    deps.add(p);
                    if (p >= i) {
                        topological = false;
                    }
                }
            }
            missing[i] = deps.size();
            for (int p : deps) {
                dependents.get(p).add(i);
            }
        }
        PriorityQueue<Integer> ready = new PriorityQueue<>();
        for (int i = 0; i < n; i++) {
            if (missing[i] == 0) {
                ready.add(i);
            }
        }
        List<Integer> order = new ArrayList<>(n);
        while (!ready.isEmpty()) {
            int i = ready.poll();
            order.add(i);
            for (int d : dependents.get(i)) {
                if (--missing[d] == 0) {
                    ready.add(d);
                }
            }
        }
        if (order.size() < n) {
            List<String> stuck = new ArrayList<>();
            for (int i = 0; i < n && stuck.size() < 5; i++) {
                if (missing[i] > 0) {
                    stuck.add(describe(g.getNode(i), i));
                }
            }
            throw new PartitionException("invalid graph: it has a cycle; " + (n - order.size())
                    + " nodes depend on each other, among them " + String.join(", ", stuck));
        }
        List<NodeProto> nodes = new ArrayList<>(n);
        List<List<String>> reads = new ArrayList<>(n);
        Map<String, Integer> producer = new HashMap<>();
        for (int k = 0; k < n; k++) {
            int i = order.get(k);
            NodeProto node = g.getNode(i);
            nodes.add(node);
            reads.add(givenReads.get(i));
            for (String out : node.getOutputList()) {
                if (!out.isEmpty()) {
                    producer.put(out, k);
                }
            }
        }
        return new ModelGraph(model, Collections.unmodifiableList(nodes), Collections.unmodifiableList(reads),
                List.copyOf(inputs), Collections.unmodifiableMap(inits), Collections.unmodifiableMap(sparse),
                List.copyOf(outputs), Collections.unmodifiableMap(producer), Collections.unmodifiableMap(declared),
                topological);
    }

    int size() {
        return nodes.size();
    }

    boolean isInitializer(String name) {
        return initializers.containsKey(name) || sparseInitializers.containsKey(name);
    }

    /** "'name' (OpType)" or "#index (OpType)" for a node without a name. */
    String describe(int index) {
        return describe(nodes.get(index), index);
    }

    static String describe(NodeProto node, int index) {
        return (node.getName().isEmpty() ? "#" + index : "'" + node.getName() + "'") + " (" + node.getOpType() + ")";
    }

    /** Adds to {@code into} every value {@code g} (and its own subgraphs) reads from outside itself. */
    private static void outerReferences(GraphProto g, Set<String> into) {
        Set<String> local = new HashSet<>();
        g.getInputList().forEach(v -> local.add(v.getName()));
        g.getInitializerList().forEach(t -> local.add(t.getName()));
        g.getSparseInitializerList().forEach(s -> local.add(s.getValues().getName()));
        for (NodeProto node : g.getNodeList()) {
            local.addAll(node.getOutputList());
        }
        Set<String> used = new LinkedHashSet<>();
        for (NodeProto node : g.getNodeList()) {
            for (String in : node.getInputList()) {
                if (!in.isEmpty()) {
                    used.add(in);
                }
            }
            for (AttributeProto a : node.getAttributeList()) {
                if (a.hasG()) {
                    outerReferences(a.getG(), used);
                }
                for (GraphProto sub : a.getGraphsList()) {
                    outerReferences(sub, used);
                }
            }
        }
        for (ValueInfoProto out : g.getOutputList()) {
            used.add(out.getName());
        }
        for (String u : used) {
            if (!local.contains(u)) {
                into.add(u);
            }
        }
    }
}
