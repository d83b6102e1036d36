package io.meshinfer.testmodels;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.InvalidProtocolBufferException;
import java.util.Random;
import java.util.function.UnaryOperator;

/**
 * Model files an attacker (or a broken exporter) could upload, derived from
 * {@link TestModels#mlp()}: tensors pointing at external files, element types that crashed
 * ONNX Runtime natively, and seeded byte-level mutations (bit flips, overwrites,
 * truncation, splices) of valid models. Same seed, same bytes.
 */
public final class HostileModels {
    private HostileModels() {
    }

    /** The mlp whose bias {@code b2} lives in the file {@code location}, the way ONNX stores large weights. */
    public static byte[] externalData(String location) {
        return mlpWith(b -> withInitializer(b, "b2", t -> t.toBuilder().clearRawData()
                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(entry("location", location))
                .addExternalData(entry("length", "12"))
                .build()));
    }

    /** Only {@code external_data} entries, without {@code data_location = EXTERNAL}. */
    public static byte[] externalDataEntriesOnly(String location) {
        return mlpWith(b -> withInitializer(b, "b2", t -> t.toBuilder().addExternalData(entry("location", location))
                .build()));
    }

    /**
     * The mlp with an extra {@code If} node whose then-branch holds a Constant whose value
     * is stored in the file {@code location}: external data hidden in a subgraph.
     */
    public static byte[] externalDataInSubgraph(String location) {
        TensorProto hidden = TensorProto.newBuilder().setName("hidden").setDataType(TensorProto.DataType.FLOAT_VALUE)
                .addDims(3).setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(entry("location", location)).build();
        NodeProto constant = NodeProto.newBuilder().setOpType("Constant").addOutput("c")
                .addAttribute(AttributeProto.newBuilder().setName("value").setType(AttributeProto.AttributeType.TENSOR)
                        .setT(hidden))
                .build();
        GraphProto branch = GraphProto.newBuilder().setName("then").addNode(constant).build();
        NodeProto ifNode = NodeProto.newBuilder().setOpType("If").addInput("cond").addOutput("branch_out")
                .addAttribute(AttributeProto.newBuilder().setName("then_branch")
                        .setType(AttributeProto.AttributeType.GRAPH).setG(branch))
                .build();
        return mlpWith(b -> {
            b.getGraphBuilder().addNode(ifNode);
            return b;
        });
    }

    /** The mlp with an extra initializer of element type {@code type} (-2147483648 crashed ONNX Runtime 1.23.2). */
    public static byte[] initializerOfType(int type) {
        return mlpWith(b -> {
            b.getGraphBuilder().addInitializer(TensorProto.newBuilder().setName("extra").setDataType(type).addDims(4)
                    .setRawData(com.google.protobuf.ByteString.copyFrom(new byte[16])));
            return b;
        });
    }

    /** The mlp whose bias {@code b1} claims a negative dimension. */
    public static byte[] negativeDimension() {
        return mlpWith(b -> withInitializer(b, "b1", t -> t.toBuilder().setDims(0, -5).build()));
    }

    /** A seeded byte-level mutation of {@code valid}: bit flips, byte overwrites, truncation or a splice with {@code other}. */
    public static byte[] mutate(byte[] valid, byte[] other, Random random) {
        byte[] b = valid.clone();
        switch (random.nextInt(5)) {
            case 0 -> {
                for (int n = 1 + random.nextInt(4); n > 0; n--) {
                    b[random.nextInt(b.length)] ^= (byte) (1 << random.nextInt(8));
                }
                return b;
            }
            case 1 -> {
                for (int n = 1 + random.nextInt(8); n > 0; n--) {
                    b[random.nextInt(b.length)] = (byte) random.nextInt(256);
                }
                return b;
            }
            case 2 -> {
                return java.util.Arrays.copyOf(b, 1 + random.nextInt(b.length - 1));
            }
            case 3 -> {
                int cut = random.nextInt(b.length);
                int from = random.nextInt(other.length);
                byte[] out = new byte[cut + other.length - from];
                System.arraycopy(b, 0, out, 0, cut);
                System.arraycopy(other, from, out, cut, other.length - from);
                return out;
            }
            default -> {
                // a run of 0xFF: varint lengths and tags claiming huge values
                int at = random.nextInt(b.length);
                for (int i = at; i < Math.min(b.length, at + 1 + random.nextInt(6)); i++) {
                    b[i] = (byte) 0xFF;
                }
                return b;
            }
        }
    }

    /**
     * A seeded structural mutation of the valid model {@code valid}: one to three fields
     * anywhere in its protobuf tree (graph, nodes, attributes, tensors, types) set to
     * boundary values, added, duplicated or cleared. This is the generator that found
     * the element types that crash ONNX Runtime natively.
     */
    public static byte[] mutateFields(byte[] valid, Random random) {
        try {
            ModelProto.Builder b = ModelProto.parseFrom(valid).toBuilder();
            for (int n = 1 + random.nextInt(3); n > 0; n--) {
                mutateField(b, random, 0);
            }
            return b.build().toByteArray();
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("not a valid model to mutate", e);
        }
    }

    private static final long[] BOUNDARY = {0, 1, -1, 2, 3, 7, 8, 255, 256, 65535, Integer.MAX_VALUE, Integer.MIN_VALUE,
        Long.MAX_VALUE, Long.MIN_VALUE, 1L << 32, 1_000_000_000_000L, -2, 13};
    private static final String[] WORDS = {"", "x", "y", "h", "r", "w1", "b1", "Gemm", "Relu", "Add", "If", "Loop",
        "Reshape", "Gather", "Conv", "Cast", "Concat", "Slice", "Pad", "Resize", "ai.onnx.ml", "com.microsoft",
        "../../etc/passwd", "location", "batch", "ScatterND", "TopK", "NonZero", "ConstantOfShape", "Einsum"};

    private static void mutateField(com.google.protobuf.Message.Builder b, Random random, int depth) {
        var fields = b.getDescriptorForType().getFields();
        var f = fields.get(random.nextInt(fields.size()));
        if (f.getJavaType() == com.google.protobuf.Descriptors.FieldDescriptor.JavaType.MESSAGE) {
            if (!f.isRepeated()) {
                var sub = ((com.google.protobuf.Message) b.getField(f)).toBuilder();
                mutateField(sub, random, depth + 1);
                b.setField(f, sub.build());
                return;
            }
            int count = b.getRepeatedFieldCount(f);
            if (count > 0 && random.nextInt(6) != 0) {
                int i = random.nextInt(count);
                var sub = ((com.google.protobuf.Message) b.getRepeatedField(f, i)).toBuilder();
                mutateField(sub, random, depth + 1);
                b.setRepeatedField(f, i, sub.build());
            } else if (count > 0 && random.nextBoolean()) {
                b.addRepeatedField(f, b.getRepeatedField(f, random.nextInt(count)));
            } else if (count > 0 && random.nextBoolean()) {
                b.clearField(f);
            } else {
                var fresh = b.newBuilderForField(f);
                if (depth < 6) {
                    mutateField(fresh, random, depth + 1);
                }
                b.addRepeatedField(f, fresh.build());
            }
            return;
        }
        Object value = switch (f.getJavaType()) {
            case INT -> (int) BOUNDARY[random.nextInt(BOUNDARY.length)];
            case LONG -> BOUNDARY[random.nextInt(BOUNDARY.length)];
            case FLOAT -> random.nextBoolean() ? Float.NaN : random.nextFloat() * 1e6f;
            case DOUBLE -> random.nextDouble();
            case BOOLEAN -> random.nextBoolean();
            case STRING -> WORDS[random.nextInt(WORDS.length)];
            case BYTE_STRING -> {
                byte[] bytes = new byte[random.nextInt(64)];
                random.nextBytes(bytes);
                yield com.google.protobuf.ByteString.copyFrom(bytes);
            }
            case ENUM -> f.getEnumType().getValues().get(random.nextInt(f.getEnumType().getValues().size()));
            default -> null;
        };
        if (value == null) {
            return;
        }
        if (!f.isRepeated()) {
            b.setField(f, value);
        } else if (b.getRepeatedFieldCount(f) > 0 && random.nextBoolean()) {
            b.setRepeatedField(f, random.nextInt(b.getRepeatedFieldCount(f)), value);
        } else if (random.nextInt(4) == 0) {
            b.clearField(f);
        } else {
            b.addRepeatedField(f, value);
        }
    }

    private static byte[] mlpWith(UnaryOperator<ModelProto.Builder> change) {
        try {
            return change.apply(ModelProto.parseFrom(TestModels.mlp()).toBuilder()).build().toByteArray();
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    private static ModelProto.Builder withInitializer(ModelProto.Builder b, String name,
            UnaryOperator<TensorProto> change) {
        GraphProto.Builder g = b.getGraphBuilder();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            if (g.getInitializer(i).getName().equals(name)) {
                g.setInitializer(i, change.apply(g.getInitializer(i)));
                return b;
            }
        }
        throw new IllegalArgumentException("no initializer " + name);
    }

    private static StringStringEntryProto entry(String key, String value) {
        return StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }
}
