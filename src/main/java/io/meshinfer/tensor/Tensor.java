package io.meshinfer.tensor;

import java.util.Arrays;

/**
 * An immutable dense tensor: an element type, a shape and its data as one primitive
 * array in row-major order. The constructor checks that the array type matches the
 * element type and that its length is the product of the shape.
 *
 * <p>Immutability is by convention: the accessors hand out the backing array without
 * copying (tensors are large and on the hot path), and no code may write to an array
 * it got from a tensor.
 */
public final class Tensor {
    /** The largest element count a tensor may have (Java arrays are int-indexed). */
    public static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;

    private final DType dtype;
    private final long[] shape;
    private final Object data;
    /** The element count, kept: reading an array's length through reflection is not free on every request. */
    private final int size;

    private Tensor(DType dtype, long[] shape, Object data, int size) {
        this.dtype = dtype;
        this.shape = shape;
        this.data = data;
        this.size = size;
    }

    /**
     * Wraps {@code data} (not copied) as a tensor of the given type and shape.
     *
     * @throws IllegalArgumentException if the array type does not fit {@code dtype}, a
     *     dimension is negative, or the length is not the product of the shape
     */
    public static Tensor of(DType dtype, long[] shape, Object data) {
        if (dtype == null || shape == null || data == null) {
            throw new IllegalArgumentException("dtype, shape and data are required");
        }
        if (data.getClass() != dtype.arrayType()) {
            throw new IllegalArgumentException("data of type " + data.getClass().getSimpleName()
                    + " cannot hold " + dtype);
        }
        long expected = elementCount(shape);
        int actual = java.lang.reflect.Array.getLength(data);
        if (expected != actual) {
            throw new IllegalArgumentException("data has " + actual + " elements, shape "
                    + Arrays.toString(shape) + " needs " + expected);
        }
        return new Tensor(dtype, shape.clone(), data, actual);
    }

    public static Tensor ofFloats(long[] shape, float... data) {
        return of(DType.FP32, shape, data);
    }

    public static Tensor ofDoubles(long[] shape, double... data) {
        return of(DType.FP64, shape, data);
    }

    public static Tensor ofLongs(long[] shape, long... data) {
        return of(DType.INT64, shape, data);
    }

    public static Tensor ofInts(long[] shape, int... data) {
        return of(DType.INT32, shape, data);
    }

    public static Tensor ofBooleans(long[] shape, boolean... data) {
        return of(DType.BOOL, shape, data);
    }

    /** A UINT8 tensor; values above 127 are stored as their two's-complement bytes. */
    public static Tensor ofUint8(long[] shape, byte... data) {
        return of(DType.UINT8, shape, data);
    }

    /**
     * The number of elements a shape holds.
     *
     * @throws IllegalArgumentException for a negative dimension or more than
     *     {@link #MAX_ELEMENTS} elements
     */
    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape)
                        + " has a negative dimension");
            }
            if (d != 0 && n > MAX_ELEMENTS / d) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape)
                        + " holds more than " + MAX_ELEMENTS + " elements");
            }
            n *= d;
        }
        return n;
    }

    public DType dtype() {
        return dtype;
    }

    /** A copy of the shape. */
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int axis) {
        return shape[axis];
    }

    public int size() {
        return size;
    }

    /** The size in bytes of the raw encoding of the data. */
    public long byteSize() {
        return (long) size() * dtype.byteSize();
    }

    /** The backing primitive array; callers must not modify it. */
    public Object data() {
        return data;
    }

    public float[] floats() {
        return (float[]) expect(DType.FP32);
    }

    public double[] doubles() {
        return (double[]) expect(DType.FP64);
    }

    public long[] longs() {
        return (long[]) expect(DType.INT64);
    }

    public int[] ints() {
        return (int[]) expect(DType.INT32);
    }

    public short[] shorts() {
        return (short[]) expect(DType.INT16);
    }

    public boolean[] booleans() {
        return (boolean[]) expect(DType.BOOL);
    }

    /** The bytes of an INT8 or UINT8 tensor. */
    public byte[] bytes() {
        if (dtype != DType.UINT8 && dtype != DType.INT8) {
            throw new IllegalStateException("tensor is " + dtype + ", not INT8/UINT8");
        }
        return (byte[]) data;
    }

    private Object expect(DType t) {
        if (dtype != t) {
            throw new IllegalStateException("tensor is " + dtype + ", not " + t);
        }
        return data;
    }

    /** Whether the shape equals {@code other}'s shape. */
    public boolean sameShape(long[] other) {
        return Arrays.equals(shape, other);
    }

    /** Element-wise equality of type, shape and data (NaN equals NaN). */
    public boolean contentEquals(Tensor other) {
        if (other == this) {
            return true;
        }
        if (other == null || dtype != other.dtype || !Arrays.equals(shape, other.shape)) {
            return false;
        }
        return switch (dtype) {
            case FP32 -> Arrays.equals((float[]) data, (float[]) other.data);
            case FP64 -> Arrays.equals((double[]) data, (double[]) other.data);
            case INT8, UINT8 -> Arrays.equals((byte[]) data, (byte[]) other.data);
            case INT16 -> Arrays.equals((short[]) data, (short[]) other.data);
            case INT32 -> Arrays.equals((int[]) data, (int[]) other.data);
            case INT64 -> Arrays.equals((long[]) data, (long[]) other.data);
            case BOOL -> Arrays.equals((boolean[]) data, (boolean[]) other.data);
        };
    }

    /** Element {@code i} widened to a double (UINT8 read unsigned, BOOL as 0/1). */
    public double getAsDouble(int i) {
        return switch (dtype) {
            case FP32 -> ((float[]) data)[i];
            case FP64 -> ((double[]) data)[i];
            case INT8 -> ((byte[]) data)[i];
            case UINT8 -> ((byte[]) data)[i] & 0xFF;
            case INT16 -> ((short[]) data)[i];
            case INT32 -> ((int[]) data)[i];
            case INT64 -> ((long[]) data)[i];
            case BOOL -> ((boolean[]) data)[i] ? 1 : 0;
        };
    }

    /**
     * Where the largest of the {@code length} elements from {@code offset} is, counted from
     * {@code offset} (the first of equal ones): the class a row of scores picks.
     */
    public int argmax(int offset, int length) {
        int best = 0;
        double top = getAsDouble(offset);
        for (int i = 1; i < length; i++) {
            double v = getAsDouble(offset + i);
            if (v > top) {
                top = v;
                best = i;
            }
        }
        return best;
    }

    /**
     * The largest absolute element-wise difference to {@code other}, which must have the
     * same type and shape; NaN where exactly one side is NaN, 0 where both are.
     */
    public double maxAbsDifference(Tensor other) {
        if (dtype != other.dtype || !Arrays.equals(shape, other.shape)) {
            throw new IllegalArgumentException("tensors differ in type or shape: " + this + " vs " + other);
        }
        double max = 0;
        for (int i = 0, n = size(); i < n; i++) {
            double a = getAsDouble(i);
            double b = other.getAsDouble(i);
            if (Double.isNaN(a) || Double.isNaN(b)) {
                if (Double.isNaN(a) != Double.isNaN(b)) {
                    return Double.NaN;
                }
                continue;
            }
            if (a == b) {
                continue;
            }
            max = Math.max(max, Math.abs(a - b));
        }
        return max;
    }

    /** Type and shape only: a tensor's data may be personal data and is never printed. */
    @Override
    public String toString() {
        return dtype + Arrays.toString(shape);
    }
}
