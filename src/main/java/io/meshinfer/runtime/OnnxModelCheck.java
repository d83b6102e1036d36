package io.meshinfer.runtime;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.FunctionProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnsafeByteOperations;
import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * The checks a model file passes before its bytes reach ONNX Runtime, which is native code
 * and trusts much of what a file says: the file must parse as an ONNX {@code ModelProto},
 * every tensor in it (initializers, sparse initializers, constant attributes, in the main
 * graph, every subgraph and every local function) must be stored inside the file with a
 * known element type and non-negative dimensions, and every declared value type must name
 * a known element type.
 *
 * <p>Why these: a tensor with {@code data_location = EXTERNAL} (or {@code external_data}
 * entries) makes ONNX Runtime open another file named by the model, which could be any
 * file the node can read; a deploy uploads a single file, so no legitimate model needs
 * one here. An element type far outside the enum (say {@code -2147483648}) crashed the JVM
 * inside {@code OrtSession} creation with ONNX Runtime 1.23.2 (found by {@code
 * ModelFileFuzzTest}'s structural mutations); ONNX Runtime itself refuses the other bad
 * values this class refuses, so refusing them here costs nothing.
 *
 * <p>The file is memory-mapped and parsed with aliasing, so tensor payloads are never
 * copied onto the heap: checking a large model costs its structure, not its weights.
 * Protobuf's own recursion limit bounds nesting. Stateless and thread-safe.
 */
public final class OnnxModelCheck {
    /** The largest {@code TensorProto.DataType} ONNX Runtime 1.23 accepts (FLOAT4E2M1). */
    static final int MAX_ELEMENT_TYPE = 23;

    private OnnxModelCheck() {
    }

    /**
     * Checks the model in {@code file}.
     *
     * @throws ModelLoadException naming the first problem found
     */
    public static void check(Path file) throws ModelLoadException {
        ModelProto model;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size > Integer.MAX_VALUE) {
                throw new ModelLoadException("the model file has " + size + " bytes, more than one file can map");
            }
            MappedByteBuffer mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
            // a ByteString's input counts as immutable, which aliasing needs: bytes fields stay views of the map
            CodedInputStream in = UnsafeByteOperations.unsafeWrap(mapped).newCodedInput();
            in.enableAliasing(true);
            in.setSizeLimit(Integer.MAX_VALUE);
            model = ModelProto.parseFrom(in);
        } catch (InvalidProtocolBufferException e) {
            throw notProtobuf(e);
        } catch (IOException e) {
            throw new ModelLoadException("model file " + file + " cannot be read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            // protobuf reports some malformed input (e.g. an invalid UTF-8 string) unchecked
            throw notProtobuf(e);
        }
        if (!model.hasGraph()) {
            throw new ModelLoadException("not a valid ONNX model: it has no graph");
        }
        checkGraph(model.getGraph(), "graph");
        for (FunctionProto f : model.getFunctionsList()) {
            String where = "function '" + shorten(f.getName()) + "'";
            checkNodes(f.getNodeList(), where);
            checkValueInfos(f.getValueInfoList(), where);
            for (AttributeProto a : f.getAttributeProtoList()) {
                checkAttribute(a, where);
            }
        }
    }

    private static void checkGraph(GraphProto g, String where) throws ModelLoadException {
        for (TensorProto t : g.getInitializerList()) {
            checkTensor(t, where + ", initializer");
        }
        for (SparseTensorProto s : g.getSparseInitializerList()) {
            checkSparse(s, where + ", sparse initializer");
        }
        checkValueInfos(g.getInputList(), where);
        checkValueInfos(g.getOutputList(), where);
        checkValueInfos(g.getValueInfoList(), where);
        checkNodes(g.getNodeList(), where);
    }

    private static void checkNodes(List<NodeProto> nodes, String where) throws ModelLoadException {
        for (NodeProto n : nodes) {
            String at = where + ", node '" + shorten(n.getName().isEmpty() ? n.getOpType() : n.getName()) + "'";
            for (AttributeProto a : n.getAttributeList()) {
                checkAttribute(a, at);
            }
        }
    }

    private static void checkAttribute(AttributeProto a, String where) throws ModelLoadException {
        String at = where + ", attribute '" + shorten(a.getName()) + "'";
        if (a.hasT()) {
            checkTensor(a.getT(), at);
        }
        for (TensorProto t : a.getTensorsList()) {
            checkTensor(t, at);
        }
        if (a.hasSparseTensor()) {
            checkSparse(a.getSparseTensor(), at);
        }
        for (SparseTensorProto s : a.getSparseTensorsList()) {
            checkSparse(s, at);
        }
        if (a.hasTp()) {
            checkType(a.getTp(), at);
        }
        for (TypeProto tp : a.getTypeProtosList()) {
            checkType(tp, at);
        }
        if (a.hasG()) {
            checkGraph(a.getG(), at + " subgraph");
        }
        for (GraphProto g : a.getGraphsList()) {
            checkGraph(g, at + " subgraph");
        }
    }

    private static void checkSparse(SparseTensorProto s, String where) throws ModelLoadException {
        for (long d : s.getDimsList()) {
            if (d < 0) {
                throw new ModelLoadException("not a valid ONNX model: " + where + " has a negative dimension " + d);
            }
        }
        if (s.hasValues()) {
            checkTensor(s.getValues(), where);
        }
        if (s.hasIndices()) {
            checkTensor(s.getIndices(), where);
        }
    }

    private static void checkTensor(TensorProto t, String where) throws ModelLoadException {
        String name = "tensor '" + shorten(t.getName()) + "' (" + where + ")";
        if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL || t.getExternalDataCount() > 0) {
            throw new ModelLoadException(name + " refers to external data" + location(t) + "; meshinfer deploys"
                    + " self-contained model files only: save the model with its weights inside the .onnx file"
                    + " (in Python, onnx.save_model(model, path, save_as_external_data=False))");
        }
        int type = t.getDataType();
        if (type < 1 || type > MAX_ELEMENT_TYPE) {
            throw new ModelLoadException("not a valid ONNX model: " + name + " has the unknown element type " + type);
        }
        for (long d : t.getDimsList()) {
            if (d < 0) {
                throw new ModelLoadException("not a valid ONNX model: " + name + " has a negative dimension " + d);
            }
        }
    }

    private static String location(TensorProto t) {
        for (StringStringEntryProto e : t.getExternalDataList()) {
            if (e.getKey().equals("location")) {
                return " in '" + shorten(e.getValue()) + "'";
            }
        }
        return "";
    }

    private static void checkValueInfos(List<ValueInfoProto> infos, String where) throws ModelLoadException {
        for (ValueInfoProto v : infos) {
            if (v.hasType()) {
                checkType(v.getType(), where + ", value '" + shorten(v.getName()) + "'");
            }
        }
    }

    private static void checkType(TypeProto t, String where) throws ModelLoadException {
        switch (t.getValueCase()) {
            case TENSOR_TYPE -> checkElementType(t.getTensorType().getElemType(), where);
            case SPARSE_TENSOR_TYPE -> checkElementType(t.getSparseTensorType().getElemType(), where);
            case SEQUENCE_TYPE -> checkType(t.getSequenceType().getElemType(), where);
            case OPTIONAL_TYPE -> checkType(t.getOptionalType().getElemType(), where);
            case MAP_TYPE -> {
                checkElementType(t.getMapType().getKeyType(), where);
                checkType(t.getMapType().getValueType(), where);
            }
            default -> {
            }
        }
    }

    /** 0 (undefined) is left to ONNX Runtime, which refuses it with a message of its own. */
    private static void checkElementType(int type, String where) throws ModelLoadException {
        if (type < 0 || type > MAX_ELEMENT_TYPE) {
            throw new ModelLoadException("not a valid ONNX model: " + where + " has the unknown element type " + type);
        }
    }

    private static ModelLoadException notProtobuf(Exception e) {
        String detail = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        int sentence = detail.indexOf(". ");
        return new ModelLoadException("not a valid ONNX model: the file does not parse as an ONNX protobuf ("
                + (sentence < 0 ? detail : detail.substring(0, sentence)) + ")", e);
    }

    private static String shorten(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }
}
