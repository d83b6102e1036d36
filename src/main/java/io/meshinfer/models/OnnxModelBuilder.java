package io.meshinfer.models;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.ByteString;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Writes ONNX models in code: graph inputs and outputs with element types and (fixed or
 * symbolic) shapes, initializers, and nodes in topological order. Models carry
 * ir_version {@value #IR_VERSION}, the default ONNX opset ({@value #DEFAULT_OPSET} unless
 * {@link #opset(long)} says otherwise) and producer {@value #PRODUCER}.
 *
 * <p>The builder checks names as it goes: every node input must already be a graph input,
 * an initializer or an earlier node's output, no name is defined twice, and every graph
 * output must be produced by the time {@link #build()} runs. It does not check operator
 * semantics; ONNX Runtime does that when it loads the model.
 *
 * <p>Output is deterministic: the same sequence of calls gives the same bytes. Initializers
 * are stored as little-endian {@code raw_data}. A builder is not thread-safe; it may be
 * built more than once.
 */
public final class OnnxModelBuilder {
    public static final long IR_VERSION = 8;
    public static final long DEFAULT_OPSET = 17;
    public static final String PRODUCER = "meshinfer";

    private final String graphName;
    private long opset = DEFAULT_OPSET;
    private String docString = "";
    private final List<ValueInfoProto> inputs = new ArrayList<>();
    private final List<ValueInfoProto> outputs = new ArrayList<>();
    private final List<TensorProto> initializers = new ArrayList<>();
    private final List<NodeProto> nodes = new ArrayList<>();
    private final Set<String> defined = new HashSet<>();
    private final Set<String> declaredOutputs = new HashSet<>();

    private OnnxModelBuilder(String graphName) {
        this.graphName = requireName(graphName, "graph");
    }

    /** A builder for a model whose graph is called {@code graphName}. */
    public static OnnxModelBuilder create(String graphName) {
        return new OnnxModelBuilder(graphName);
    }

    /** Sets the version of the default ONNX operator set the model imports. */
    public OnnxModelBuilder opset(long version) {
        if (version < 1) {
            throw new IllegalArgumentException("opset version must be positive, got " + version);
        }
        this.opset = version;
        return this;
    }

    /** A human-readable description stored as the model's doc_string. */
    public OnnxModelBuilder docString(String text) {
        this.docString = text == null ? "" : text;
        return this;
    }

    /** Declares a graph input; no dimensions means a scalar (rank 0). */
    public OnnxModelBuilder input(String name, DType type, Dim... shape) {
        define(name, "graph input");
        inputs.add(valueInfo(name, type, shape));
        return this;
    }

    /** Declares a graph output, which some node must produce before {@link #build()}. */
    public OnnxModelBuilder output(String name, DType type, Dim... shape) {
        requireName(name, "graph output");
        if (!declaredOutputs.add(name)) {
            throw new IllegalArgumentException("graph output '" + name + "' is declared twice");
        }
        outputs.add(valueInfo(name, type, shape));
        return this;
    }

    /** Adds a constant tensor of any supported type. */
    public OnnxModelBuilder initializer(String name, Tensor value) {
        define(name, "initializer");
        TensorProto.Builder t = TensorProto.newBuilder()
                .setName(name)
                .setDataType(onnxType(value.dtype()).getNumber())
                .setRawData(ByteString.copyFrom(rawData(value)));
        for (long d : value.shape()) {
            t.addDims(d);
        }
        initializers.add(t.build());
        return this;
    }

    /** Adds an FP32 constant; no shape means a scalar. */
    public OnnxModelBuilder initializer(String name, float[] values, long... shape) {
        return initializer(name, Tensor.ofFloats(shape, values));
    }

    /** Adds an INT64 constant; no shape means a scalar. */
    public OnnxModelBuilder initializer(String name, long[] values, long... shape) {
        return initializer(name, Tensor.ofLongs(shape, values));
    }

    /** Adds an INT32 constant; no shape means a scalar. */
    public OnnxModelBuilder initializer(String name, int[] values, long... shape) {
        return initializer(name, Tensor.ofInts(shape, values));
    }

    /**
     * Adds a node of the default domain. An empty string in {@code inputs} marks an omitted
     * optional input, as ONNX does.
     */
    public OnnxModelBuilder node(String opType, List<String> inputs, List<String> outputs,
            Attribute... attributes) {
        requireName(opType, "operator type");
        if (outputs.isEmpty()) {
            throw new IllegalArgumentException(opType + " node needs at least one output");
        }
        for (String in : inputs) {
            if (!in.isEmpty() && !defined.contains(in)) {
                throw new IllegalArgumentException(opType + " node reads '" + in
                        + "', which is not a graph input, an initializer or an earlier node's output");
            }
        }
        for (String out : outputs) {
            define(out, opType + " output");
        }
        NodeProto.Builder n = NodeProto.newBuilder()
                .setOpType(opType)
                .setName(opType + "_" + nodes.size())
                .addAllInput(inputs)
                .addAllOutput(outputs);
        for (Attribute a : attributes) {
            n.addAttribute(a.proto());
        }
        nodes.add(n.build());
        return this;
    }

    /** Adds a node with a single output. */
    public OnnxModelBuilder node(String opType, List<String> inputs, String output,
            Attribute... attributes) {
        return node(opType, inputs, List.of(output), attributes);
    }

    /**
     * The model.
     *
     * @throws IllegalStateException if a declared graph output is produced by no node
     */
    public ModelProto build() {
        for (ValueInfoProto out : outputs) {
            if (!defined.contains(out.getName())) {
                throw new IllegalStateException("graph output '" + out.getName()
                        + "' is not produced by any node");
            }
        }
        GraphProto graph = GraphProto.newBuilder()
                .setName(graphName)
                .addAllInput(inputs)
                .addAllOutput(outputs)
                .addAllInitializer(initializers)
                .addAllNode(nodes)
                .build();
        return ModelProto.newBuilder()
                .setIrVersion(IR_VERSION)
                .setProducerName(PRODUCER)
                .setDocString(docString)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset))
                .setGraph(graph)
                .build();
    }

    /** The serialized model, as an ONNX file holds it. */
    public byte[] toBytes() {
        return build().toByteArray();
    }

    /**
     * Dimensions from sizes ({@code Integer} or {@code Long}) and symbolic names
     * ({@code String}): {@code dims("batch", 4)}.
     */
    public static Dim[] dims(Object... sizesOrNames) {
        Dim[] out = new Dim[sizesOrNames.length];
        for (int i = 0; i < out.length; i++) {
            Object d = sizesOrNames[i];
            if (d instanceof String s) {
                out[i] = Dim.of(s);
            } else if (d instanceof Integer || d instanceof Long) {
                out[i] = Dim.of(((Number) d).longValue());
            } else {
                throw new IllegalArgumentException("dimension " + i + " is " + d
                        + "; use an int or long size, or a String name");
            }
        }
        return out;
    }

    /** The ONNX element type for a meshinfer element type. */
    public static TensorProto.DataType onnxType(DType type) {
        return switch (type) {
            case FP32 -> TensorProto.DataType.FLOAT;
            case FP64 -> TensorProto.DataType.DOUBLE;
            case INT8 -> TensorProto.DataType.INT8;
            case UINT8 -> TensorProto.DataType.UINT8;
            case INT16 -> TensorProto.DataType.INT16;
            case INT32 -> TensorProto.DataType.INT32;
            case INT64 -> TensorProto.DataType.INT64;
            case BOOL -> TensorProto.DataType.BOOL;
        };
    }

    /** One dimension of a declared shape: a fixed size or a symbolic name. */
    public sealed interface Dim {
        /** A dimension of known size. */
        record Fixed(long size) implements Dim {
            public Fixed {
                if (size < 0) {
                    throw new IllegalArgumentException("dimension size must be >= 0, got " + size);
                }
            }
        }

        /** A dimension whose size is given at run time, named like "batch". */
        record Named(String name) implements Dim {
            public Named {
                requireName(name, "dimension");
            }
        }

        static Dim of(long size) {
            return new Fixed(size);
        }

        static Dim of(String name) {
            return new Named(name);
        }
    }

    /** A node attribute; build one with the static factories. */
    public record Attribute(AttributeProto proto) {
        public static Attribute of(String name, long value) {
            return new Attribute(start(name, AttributeProto.AttributeType.INT).setI(value).build());
        }

        public static Attribute of(String name, float value) {
            return new Attribute(start(name, AttributeProto.AttributeType.FLOAT).setF(value).build());
        }

        public static Attribute of(String name, String value) {
            return new Attribute(start(name, AttributeProto.AttributeType.STRING)
                    .setS(ByteString.copyFromUtf8(value)).build());
        }

        public static Attribute ints(String name, long... values) {
            AttributeProto.Builder a = start(name, AttributeProto.AttributeType.INTS);
            for (long v : values) {
                a.addInts(v);
            }
            return new Attribute(a.build());
        }

        public static Attribute floats(String name, float... values) {
            AttributeProto.Builder a = start(name, AttributeProto.AttributeType.FLOATS);
            for (float v : values) {
                a.addFloats(v);
            }
            return new Attribute(a.build());
        }

        private static AttributeProto.Builder start(String name, AttributeProto.AttributeType type) {
            return AttributeProto.newBuilder().setName(requireName(name, "attribute")).setType(type);
        }
    }

    private void define(String name, String what) {
        requireName(name, what);
        if (!defined.add(name)) {
            throw new IllegalArgumentException(what + " '" + name + "' reuses a name already defined");
        }
    }

    private static String requireName(String name, String what) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException(what + " needs a non-empty name");
        }
        return name;
    }

    private static ValueInfoProto valueInfo(String name, DType type, Dim... shape) {
        // An empty but present shape declares a scalar; an absent one would mean "any rank".
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        for (Dim d : shape) {
            TensorShapeProto.Dimension.Builder dim = TensorShapeProto.Dimension.newBuilder();
            if (d instanceof Dim.Fixed f) {
                dim.setDimValue(f.size());
            } else {
                dim.setDimParam(((Dim.Named) d).name());
            }
            s.addDim(dim);
        }
        TypeProto.Tensor tensorType = TypeProto.Tensor.newBuilder()
                .setElemType(onnxType(type).getNumber())
                .setShape(s)
                .build();
        return ValueInfoProto.newBuilder()
                .setName(name)
                .setType(TypeProto.newBuilder().setTensorType(tensorType))
                .build();
    }

    private static byte[] rawData(Tensor t) {
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(t.byteSize())).order(ByteOrder.LITTLE_ENDIAN);
        switch (t.dtype()) {
            case FP32 -> b.asFloatBuffer().put(t.floats());
            case FP64 -> b.asDoubleBuffer().put(t.doubles());
            case INT8, UINT8 -> b.put(t.bytes());
            case INT16 -> b.asShortBuffer().put(t.shorts());
            case INT32 -> b.asIntBuffer().put(t.ints());
            case INT64 -> b.asLongBuffer().put(t.longs());
            case BOOL -> {
                for (boolean v : t.booleans()) {
                    b.put((byte) (v ? 1 : 0));
                }
            }
        }
        return b.array();
    }
}
