package io.meshinfer.tensor;

import java.util.Locale;

/**
 * Element types a tensor may hold, named as the Open Inference Protocol names them.
 * Each maps to exactly one primitive array type; {@code UINT8} and {@code INT8} share
 * {@code byte[]} (UINT8 values are the unsigned reading of the same bits).
 */
public enum DType {
    FP32(4, float[].class),
    FP64(8, double[].class),
    INT8(1, byte[].class),
    UINT8(1, byte[].class),
    INT16(2, short[].class),
    INT32(4, int[].class),
    INT64(8, long[].class),
    BOOL(1, boolean[].class);

    private final int byteSize;
    private final Class<?> arrayType;

    DType(int byteSize, Class<?> arrayType) {
        this.byteSize = byteSize;
        this.arrayType = arrayType;
    }

    /** Bytes one element takes in the raw (binary) encoding. */
    public int byteSize() {
        return byteSize;
    }

    /** The primitive array class that holds this type's data. */
    public Class<?> arrayType() {
        return arrayType;
    }

    /** Whether this type is a floating-point type (NaN and Inf are possible values). */
    public boolean isFloatingPoint() {
        return this == FP32 || this == FP64;
    }

    /**
     * Parses an Open Inference Protocol datatype name ("FP32", "INT64", ...).
     *
     * @throws IllegalArgumentException naming the supported types, for an unknown name
     */
    public static DType fromProtocolName(String name) {
        if (name != null) {
            String upper = name.toUpperCase(Locale.ROOT);
            for (DType t : values()) {
                if (t.name().equals(upper)) {
                    return t;
                }
            }
        }
        throw new IllegalArgumentException("unsupported datatype '" + name + "' (supported: "
                + java.util.Arrays.toString(values()) + ")");
    }

    /** Allocates a zeroed array of this type with {@code n} elements. */
    public Object newArray(int n) {
        return switch (this) {
            case FP32 -> new float[n];
            case FP64 -> new double[n];
            case INT8, UINT8 -> new byte[n];
            case INT16 -> new short[n];
            case INT32 -> new int[n];
            case INT64 -> new long[n];
            case BOOL -> new boolean[n];
        };
    }
}
