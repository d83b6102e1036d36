package io.meshinfer.models;

import static io.meshinfer.models.OnnxModelBuilder.dims;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnxruntime.TensorInfo;
import io.meshinfer.models.OnnxModelBuilder.Attribute;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OnnxModelBuilderTest {

    /** y = Relu(2 * x · Bᵀ + c) with B = [[1, 3], [2, 4]], c = [0.5, -1]. */
    private static OnnxModelBuilder tinyGemm() {
        return OnnxModelBuilder.create("tiny")
                .input("x", DType.FP32, dims("batch", 2))
                .output("y", DType.FP32, dims("batch", 2))
                .initializer("B", new float[] {1, 3, 2, 4}, 2, 2)
                .initializer("c", new float[] {0.5f, -1f}, 2)
                .node("Gemm", List.of("x", "B", "c"), "g", Attribute.of("alpha", 2f), Attribute.of("transB", 1))
                .node("Relu", List.of("g"), "y");
    }

    @Test
    void tinyModelRunsInOrtWithTheHandComputedResult() throws Exception {
        Tensor x = Tensor.ofFloats(new long[] {2, 2}, 1, 1, -1, 1);

        List<NamedTensor> out = OrtTestRunner.run(tinyGemm().toBytes(), List.of(new NamedTensor("x", x)));

        // row 0: 2 * [1 + 3, 2 + 4] + c = [8.5, 11]; row 1: 2 * [-1 + 3, -2 + 4] + c = [4.5, 3]
        assertEquals(1, out.size());
        assertEquals("y", out.get(0).name());
        assertArrayEquals(new long[] {2, 2}, out.get(0).tensor().shape());
        assertArrayEquals(new float[] {8.5f, 11f, 4.5f, 3f}, out.get(0).tensor().floats(), 1e-6f);
    }

    @Test
    void negativeResultsAreClampedByRelu() throws Exception {
        Tensor x = Tensor.ofFloats(new long[] {1, 2}, -1, -1);

        List<NamedTensor> out = OrtTestRunner.run(tinyGemm().toBytes(), List.of(new NamedTensor("x", x)));

        assertArrayEquals(new float[] {0f, 0f}, out.get(0).tensor().floats());
    }

    @Test
    void sameCallsGiveSameBytes() {
        assertArrayEquals(tinyGemm().toBytes(), tinyGemm().toBytes());
        OnnxModelBuilder b = tinyGemm();
        assertArrayEquals(b.toBytes(), b.toBytes());
    }

    @Test
    void modelHeaderCarriesIrVersionOpsetAndProducer() {
        ModelProto model = tinyGemm().docString("a tiny model").build();

        assertEquals(8, model.getIrVersion());
        assertEquals("meshinfer", model.getProducerName());
        assertEquals("a tiny model", model.getDocString());
        assertEquals(1, model.getOpsetImportCount());
        assertEquals("", model.getOpsetImport(0).getDomain());
        assertEquals(17, model.getOpsetImport(0).getVersion());
        assertEquals(13, tinyGemm().opset(13).build().getOpsetImport(0).getVersion());
        assertEquals("tiny", model.getGraph().getName());
    }

    @Test
    void declaresSymbolicFixedAndScalarShapes() throws Exception {
        byte[] bytes = OnnxModelBuilder.create("shapes")
                .input("x", DType.FP32, dims("batch", 4))
                .input("s", DType.FP32)
                .output("y", DType.FP32, dims("batch", 4))
                .node("Mul", List.of("x", "s"), "y")
                .toBytes();

        ModelProto model = ModelProto.parseFrom(bytes);
        TensorShapeProto x = model.getGraph().getInput(0).getType().getTensorType().getShape();
        assertEquals("batch", x.getDim(0).getDimParam());
        assertEquals(4, x.getDim(1).getDimValue());
        assertTrue(model.getGraph().getInput(1).getType().getTensorType().hasShape(),
                "a scalar must declare an empty shape, not leave the rank unknown");
        assertEquals(0, model.getGraph().getInput(1).getType().getTensorType().getShape().getDimCount());

        Map<String, TensorInfo> signature = OrtTestRunner.signature(bytes);
        assertArrayEquals(new long[] {-1, 4}, signature.get("x").getShape());
        assertEquals("batch", signature.get("x").getDimensionNames()[0]);
        assertTrue(signature.get("s").isScalar());
    }

    @Test
    void everyDTypeMapsToItsOnnxType() {
        assertEquals(TensorProto.DataType.FLOAT, OnnxModelBuilder.onnxType(DType.FP32));
        assertEquals(TensorProto.DataType.DOUBLE, OnnxModelBuilder.onnxType(DType.FP64));
        assertEquals(TensorProto.DataType.INT8, OnnxModelBuilder.onnxType(DType.INT8));
        assertEquals(TensorProto.DataType.UINT8, OnnxModelBuilder.onnxType(DType.UINT8));
        assertEquals(TensorProto.DataType.INT16, OnnxModelBuilder.onnxType(DType.INT16));
        assertEquals(TensorProto.DataType.INT32, OnnxModelBuilder.onnxType(DType.INT32));
        assertEquals(TensorProto.DataType.INT64, OnnxModelBuilder.onnxType(DType.INT64));
        assertEquals(TensorProto.DataType.BOOL, OnnxModelBuilder.onnxType(DType.BOOL));
    }

    @Test
    void initializersAreLittleEndianRawData() {
        ModelProto model = OnnxModelBuilder.create("init")
                .initializer("l", new long[] {1, -2, 3}, 3)
                .initializer("b", Tensor.ofBooleans(new long[] {2}, true, false))
                .build();

        TensorProto l = model.getGraph().getInitializer(0);
        assertEquals(TensorProto.DataType.INT64_VALUE, l.getDataType());
        assertEquals(List.of(3L), l.getDimsList());
        ByteBuffer raw = l.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(1, raw.getLong());
        assertEquals(-2, raw.getLong());
        assertEquals(3, raw.getLong());
        assertArrayEquals(new byte[] {1, 0}, model.getGraph().getInitializer(1).getRawData().toByteArray());
    }

    @Test
    void intInitializersRunInOrt() throws Exception {
        byte[] bytes = OnnxModelBuilder.create("ints")
                .input("x", DType.INT32, dims("batch", 3))
                .output("y", DType.INT32, dims("batch", 3))
                .initializer("offset", new int[] {10, -20, 30}, 3)
                .node("Add", List.of("x", "offset"), "y")
                .toBytes();

        List<NamedTensor> out = OrtTestRunner.run(bytes,
                List.of(new NamedTensor("x", Tensor.ofInts(new long[] {1, 3}, 1, 2, 3))));

        assertArrayEquals(new int[] {11, -18, 33}, out.get(0).tensor().ints());
    }

    @Test
    void attributesCarryTheirTypes() {
        ModelProto model = OnnxModelBuilder.create("attrs")
                .input("x", DType.FP32, dims("batch", 1, 4, 4))
                .initializer("w", new float[9], 1, 1, 3, 3)
                .node("Conv", List.of("x", "w", ""), "y",
                        Attribute.of("group", 1),
                        Attribute.ints("kernel_shape", 3, 3),
                        Attribute.of("auto_pad", "SAME_UPPER"))
                .node("LeakyRelu", List.of("y"), "z", Attribute.of("alpha", 0.25f))
                .node("Constant", List.of(), "c", Attribute.floats("value_floats", 1.5f, 2.5f))
                .build();

        List<AttributeProto> conv = model.getGraph().getNode(0).getAttributeList();
        assertEquals(AttributeProto.AttributeType.INT, conv.get(0).getType());
        assertEquals(1, conv.get(0).getI());
        assertEquals(AttributeProto.AttributeType.INTS, conv.get(1).getType());
        assertEquals(List.of(3L, 3L), conv.get(1).getIntsList());
        assertEquals(AttributeProto.AttributeType.STRING, conv.get(2).getType());
        assertEquals("SAME_UPPER", conv.get(2).getS().toStringUtf8());
        AttributeProto alpha = model.getGraph().getNode(1).getAttribute(0);
        assertEquals(AttributeProto.AttributeType.FLOAT, alpha.getType());
        assertEquals(0.25f, alpha.getF());
        AttributeProto floats = model.getGraph().getNode(2).getAttribute(0);
        assertEquals(AttributeProto.AttributeType.FLOATS, floats.getType());
        assertEquals(List.of(1.5f, 2.5f), floats.getFloatsList());
        assertEquals(List.of("x", "w", ""), model.getGraph().getNode(0).getInputList());
        assertEquals("Conv_0", model.getGraph().getNode(0).getName());
    }

    @Test
    void rejectsANodeReadingAnUndefinedName() {
        OnnxModelBuilder b = OnnxModelBuilder.create("bad").input("x", DType.FP32, dims(1));

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> b.node("Add", List.of("x", "missing"), "y"));
        assertTrue(e.getMessage().contains("'missing'"), e.getMessage());
    }

    @Test
    void rejectsANameDefinedTwice() {
        OnnxModelBuilder b = OnnxModelBuilder.create("bad")
                .input("x", DType.FP32, dims(1))
                .initializer("w", new float[] {1f}, 1);

        assertThrows(IllegalArgumentException.class, () -> b.initializer("x", new float[] {1f}, 1));
        assertThrows(IllegalArgumentException.class, () -> b.node("Identity", List.of("x"), "w"));
        assertThrows(IllegalArgumentException.class, () -> b.input("w", DType.FP32, dims(1)));
    }

    @Test
    void rejectsAGraphOutputNoNodeProduces() {
        OnnxModelBuilder b = OnnxModelBuilder.create("bad")
                .input("x", DType.FP32, dims(1))
                .output("y", DType.FP32, dims(1));

        IllegalStateException e = assertThrows(IllegalStateException.class, b::build);
        assertTrue(e.getMessage().contains("'y'"), e.getMessage());
    }

    @Test
    void rejectsDimensionsThatAreNeitherSizesNorNames() {
        assertThrows(IllegalArgumentException.class, () -> dims("batch", 2.5));
        assertThrows(IllegalArgumentException.class, () -> dims(-1));
        assertThrows(IllegalArgumentException.class, () -> dims(""));
        assertFalse(dims("batch", 3L)[1] instanceof OnnxModelBuilder.Dim.Named);
    }

    @Test
    void rejectsInitializerDataThatDoesNotFitItsShape() {
        OnnxModelBuilder b = OnnxModelBuilder.create("bad");

        assertThrows(IllegalArgumentException.class, () -> b.initializer("w", new float[] {1, 2, 3}, 2, 2));
    }
}
