package io.meshinfer.partition;

import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.meshinfer.models.OnnxModelBuilder;
import io.meshinfer.runtime.TensorSpec;
import io.meshinfer.tensor.DType;
import java.util.ArrayList;
import java.util.List;

/** Conversions between ONNX element types and shapes and meshinfer's. */
final class OnnxTypes {
    private OnnxTypes() {
    }

    /** The meshinfer type of an ONNX element type, or null when meshinfer does not carry it. */
    static DType dtype(int onnxElemType) {
        TensorProto.DataType t = TensorProto.DataType.forNumber(onnxElemType);
        if (t == null) {
            return null;
        }
        return switch (t) {
            case FLOAT -> DType.FP32;
            case DOUBLE -> DType.FP64;
            case INT8 -> DType.INT8;
            case UINT8 -> DType.UINT8;
            case INT16 -> DType.INT16;
            case INT32 -> DType.INT32;
            case INT64 -> DType.INT64;
            case BOOL -> DType.BOOL;
            default -> null;
        };
    }

    static String name(int onnxElemType) {
        TensorProto.DataType t = TensorProto.DataType.forNumber(onnxElemType);
        return t == null ? "#" + onnxElemType : t.name();
    }

    /** Bytes of one element of an ONNX element type (0 when unknown, e.g. STRING). */
    static int elementBytes(int onnxElemType) {
        TensorProto.DataType t = TensorProto.DataType.forNumber(onnxElemType);
        if (t == null) {
            return 0;
        }
        return switch (t) {
            case FLOAT, INT32, UINT32 -> 4;
            case DOUBLE, INT64, UINT64, COMPLEX64 -> 8;
            case COMPLEX128 -> 16;
            case INT16, UINT16, FLOAT16, BFLOAT16 -> 2;
            case INT8, UINT8, BOOL -> 1;
            default -> 0;
        };
    }

    /** The shape of a TensorSpec as ONNX dimensions; unnamed dynamic dimensions get a name of their own. */
    static ValueInfoProto valueInfo(String name, TensorSpec spec) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (int i = 0; i < spec.shape().size(); i++) {
            TensorSpec.Dim d = spec.shape().get(i);
            TensorShapeProto.Dimension.Builder dim = TensorShapeProto.Dimension.newBuilder();
            if (!d.isDynamic()) {
                dim.setDimValue(d.size());
            } else {
                dim.setDimParam(d.symbol().isEmpty() ? name + "_dim" + i : d.symbol());
            }
            shape.addDim(dim);
        }
        TypeProto.Tensor tensor = TypeProto.Tensor.newBuilder()
                .setElemType(OnnxModelBuilder.onnxType(spec.dtype()).getNumber())
                .setShape(shape)
                .build();
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(tensor)).build();
    }

    /** The declared shape of a value, e.g. ["batch", 1024]; an unknown dimension is "?". */
    static List<Object> shape(ValueInfoProto v) {
        List<Object> out = new ArrayList<>();
        if (!v.getType().hasTensorType() || !v.getType().getTensorType().hasShape()) {
            return out;
        }
        for (TensorShapeProto.Dimension d : v.getType().getTensorType().getShape().getDimList()) {
            if (d.hasDimValue()) {
                out.add(d.getDimValue());
            } else {
                out.add(d.getDimParam().isEmpty() ? "?" : d.getDimParam());
            }
        }
        return out;
    }

    /** The declared element type of a value as meshinfer names it ("FP32"), or the ONNX name. */
    static String datatype(ValueInfoProto v) {
        if (!v.getType().hasTensorType()) {
            return v.getType().getValueCase().name();
        }
        int t = v.getType().getTensorType().getElemType();
        DType d = dtype(t);
        return d == null ? name(t) : d.name();
    }
}
