package io.meshinfer.protocol;

import com.fasterxml.jackson.core.io.NumberInput;
import io.meshinfer.tensor.DType;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Reads a JSON array of numbers (flat or regularly nested) straight from the bytes of a body
 * into the primitive array of a numeric datatype, without Jackson's tokens: the cost of JSON
 * for image-sized tensors is tokenizing the text, not converting the numbers.
 *
 * <p>This reader only ever answers for input it is sure of: strict JSON, numbers the datatype
 * holds exactly as Jackson would read them, and exactly the expected element count in a
 * regular nesting. For anything else (a NaN string, an out-of-range or fractional integer, a
 * syntax error, a ragged array, a count that does not match) it answers null, and the caller
 * reads the same bytes with Jackson, which accepts or refuses them with its precise message.
 * So a body means the same, and fails with the same message, whichever reader takes it.
 *
 * <p>Floating-point text is converted with Clinger's fast path when it is exact (at most 18
 * significant digits, a mantissa below 2^53 and a power of ten below 10^23, so one correctly
 * rounded double operation gives the value). For FP32 the double is then rounded to float,
 * which is correct unless the double lies exactly halfway between two floats (double
 * rounding) or in the subnormal range; those, and all other numbers, go through Jackson's own
 * {@link NumberInput} conversion, the one its parser uses with the fast double parser on.
 * Integer text (no fraction or exponent) converts as Jackson converts an integer token: a
 * negative zero is zero.
 *
 * <p>Stateless; thread-safe.
 */
final class NumberArrays {
    /** Longest nesting this reader follows; deeper data goes to Jackson. */
    private static final int MAX_DEPTH = 32;
    /** Longest number text this reader converts; longer goes to Jackson, which bounds it. */
    private static final int MAX_NUMBER_LENGTH = 64;
    /** Significant digits gathered into a long: 18 cannot overflow it. */
    private static final int MAX_DIGITS = 18;
    private static final long MAX_EXACT_MANTISSA = 1L << 53;
    private static final VarHandle LONG_LE = MethodHandles.byteArrayViewVarHandle(long[].class,
            ByteOrder.LITTLE_ENDIAN);
    private static final long[] POWERS_OF_TEN_LONG = {
        1L, 10L, 100L, 1_000L, 10_000L, 100_000L, 1_000_000L, 10_000_000L, 100_000_000L,
    };
    private static final double[] POWERS_OF_TEN = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    };

    private NumberArrays() {
    }

    /**
     * The {@code count} elements of the array in {@code body[from, to)}, which must be exactly
     * one JSON array, as a new array of {@code dtype}; null if this reader cannot be sure of
     * the answer (see the class comment), including every datatype but FP32, FP64 and the
     * integer types.
     */
    static Object read(byte[] body, int from, int to, DType dtype, int count) {
        // count values need at least 2 * count + 1 bytes with their brackets and commas
        if (dtype == DType.BOOL || from < 0 || to > body.length || (long) count * 2 + 1 > to - from) {
            return null;
        }
        Reader r = new Reader(body, to, dtype, count);
        return r.array(from) == to ? r.out : null;
    }

    /** One read: the bytes, where they end, the output and its element type's range. */
    private static final class Reader {
        private final byte[] b;
        private final int to;
        private final Object out;
        private final float[] f32;
        private final double[] f64;
        private final byte[] i8;
        private final short[] i16;
        private final int[] i32;
        private final long[] i64;
        private final long min;
        private final long max;
        private final int capacity;
        private int n;

        Reader(byte[] b, int to, DType dtype, int count) {
            this.b = b;
            this.to = to;
            this.out = dtype.newArray(count);
            this.capacity = count;
            f32 = dtype == DType.FP32 ? (float[]) out : null;
            f64 = dtype == DType.FP64 ? (double[]) out : null;
            i8 = dtype == DType.INT8 || dtype == DType.UINT8 ? (byte[]) out : null;
            i16 = dtype == DType.INT16 ? (short[]) out : null;
            i32 = dtype == DType.INT32 ? (int[]) out : null;
            i64 = dtype == DType.INT64 ? (long[]) out : null;
            min = switch (dtype) {
                case INT8 -> Byte.MIN_VALUE;
                case INT16 -> Short.MIN_VALUE;
                case INT32 -> Integer.MIN_VALUE;
                case INT64 -> Long.MIN_VALUE;
                default -> 0;
            };
            max = switch (dtype) {
                case INT8 -> Byte.MAX_VALUE;
                case UINT8 -> 255;
                case INT16 -> Short.MAX_VALUE;
                case INT32 -> Integer.MAX_VALUE;
                case INT64 -> Long.MAX_VALUE;
                default -> 0;
            };
        }

        /**
         * Reads the array starting at {@code from}; returns the index after its closing
         * bracket if it is well formed, regular, and holds exactly {@link #capacity} values
         * that all converted, else -1.
         */
        int array(int from) {
            byte[] b = this.b;
            int to = this.to;
            int pos = from;
            if (pos >= to || b[pos] != '[') {
                return -1;
            }
            pos++;
            // length[d]: the element count every array at depth d must have, once one has closed
            int[] length = new int[MAX_DEPTH + 1];
            int[] seen = new int[MAX_DEPTH + 1];
            // holds[d]: 0 unknown, 1 values, 2 arrays
            byte[] holds = new byte[MAX_DEPTH + 1];
            Arrays.fill(length, -1);
            int depth = 1;
            boolean expectValue = true;
            boolean first = true;
            while (true) {
                while (pos < to && isWhitespace(b[pos])) {
                    pos++;
                }
                if (pos >= to) {
                    return -1;
                }
                byte c = b[pos];
                if (c == ']') {
                    if (expectValue && !first) {
                        return -1; // "[1,]"
                    }
                    if (length[depth] < 0) {
                        length[depth] = seen[depth];
                    } else if (length[depth] != seen[depth]) {
                        return -1;
                    }
                    pos++;
                    if (--depth == 0) {
                        return n == capacity ? pos : -1;
                    }
                    expectValue = false;
                    first = false;
                    continue;
                }
                if (!expectValue) {
                    if (c != ',') {
                        return -1;
                    }
                    pos++;
                    expectValue = true;
                    first = false;
                    continue;
                }
                seen[depth]++;
                if (c == '[') {
                    if (holds[depth] == 1 || depth == MAX_DEPTH) {
                        return -1;
                    }
                    holds[depth] = 2;
                    depth++;
                    seen[depth] = 0;
                    pos++;
                    first = true;
                    continue;
                }
                if (holds[depth] == 2) {
                    return -1;
                }
                holds[depth] = 1;
                // the common run: number, comma, number, ... without the loop's other cases
                int values = 0;
                while (true) {
                    if (n == capacity) {
                        return -1;
                    }
                    pos = number(pos);
                    if (pos < 0) {
                        return -1;
                    }
                    n++;
                    values++;
                    if (pos + 1 < to && b[pos] == ',' && (b[pos + 1] == '-' || (b[pos + 1] >= '0' && b[pos + 1] <= '9'))) {
                        pos++;
                        continue;
                    }
                    break;
                }
                seen[depth] += values - 1; // the first was counted above
                expectValue = false;
                first = false;
            }
        }

        /**
         * Reads one JSON number at {@code start} into element {@link #n}; returns the index
         * after it, or -1 if it cannot. This is the common case, small enough for the JIT to
         * inline into the array's loop: an FP32 element written with at most 17 digits, no
         * exponent, that Clinger's fast path converts. Everything else goes to {@link #anyNumber}.
         */
        private int number(int start) {
            float[] f32 = this.f32;
            if (f32 == null) {
                return anyNumber(start);
            }
            byte[] b = this.b;
            int to = this.to;
            int i = start;
            boolean negative = b[i] == '-';
            if (negative) {
                i++;
            }
            // Digit runs are measured eight bytes at a time, without a branch per digit: the
            // lengths of floats' texts vary from one to the next, and mispredicted loop exits
            // cost more than the digits. Near the end of the span the general path reads.
            if (i + 18 > to) {
                return anyNumber(start);
            }
            long word = (long) LONG_LE.get(b, i);
            int k = digitRun(word);
            if (k == 0 || k == 8 || (k > 1 && b[i] == '0')) {
                return anyNumber(start); // not a number, eight or more integer digits, or a leading zero
            }
            long mantissa = leadingDigitsValue(word, k);
            int digits = k;
            i += k;
            int exponent = 0;
            boolean fraction = b[i] == '.';
            if (fraction) {
                i++;
                word = (long) LONG_LE.get(b, i);
                int m = digitRun(word);
                if (m == 0) {
                    return -1; // "1." or "1.e5"
                }
                mantissa = mantissa * POWERS_OF_TEN_LONG[m] + leadingDigitsValue(word, m);
                digits += m;
                exponent = -m;
                i += m;
                if (m == 8) {
                    int c;
                    while (i < to && (c = b[i]) >= '0' && c <= '9') {
                        if (++digits > 17) {
                            return anyNumber(start);
                        }
                        mantissa = mantissa * 10 + (c - '0');
                        exponent--;
                        i++;
                    }
                }
            }
            if (i < to) {
                byte d = b[i];
                if (d != ',' && d != ']' && !isWhitespace(d)) {
                    return anyNumber(start); // an exponent, or not a number
                }
            }
            if (mantissa == 0) {
                f32[n] = negative && fraction ? -0.0f : 0.0f;
                return i;
            }
            // at most 17 digits: below 2^53 when the first is not 9 or so; checked all the same
            if (mantissa > MAX_EXACT_MANTISSA || exponent < -22) {
                return anyNumber(start);
            }
            double d = mantissa / POWERS_OF_TEN[-exponent];
            // exactly halfway between two floats, or a float with fewer than 24 bits: rounded by the general path
            if ((Double.doubleToRawLongBits(d) & 0x1FFF_FFFFL) == 0x1000_0000L || d < Float.MIN_NORMAL
                    || d > Float.MAX_VALUE) {
                return anyNumber(start);
            }
            float f = (float) d;
            f32[n] = negative ? -f : f;
            return i;
        }

        /** Reads any JSON number at {@code start} into element {@link #n}, as {@link #number} does. */
        private int anyNumber(int start) {
            byte[] b = this.b;
            int to = this.to;
            int i = start;
            boolean negative = false;
            if (b[i] == '-') {
                negative = true;
                i++;
            }
            if (i >= to) {
                return -1;
            }
            long mantissa = 0;
            int digits = 0;
            int exponent = 0;
            int c = b[i];
            if (c == '0') {
                i++;
            } else if (c >= '1' && c <= '9') {
                while (i < to && (c = b[i]) >= '0' && c <= '9') {
                    if (digits < MAX_DIGITS) {
                        mantissa = mantissa * 10 + (c - '0');
                    } else {
                        exponent++; // a dropped digit: the text goes to the slow path below
                    }
                    digits++;
                    i++;
                }
            } else {
                return -1;
            }
            boolean integer = true;
            if (i < to && b[i] == '.') {
                integer = false;
                i++;
                int fractionStart = i;
                // eight digits at a time while they fit: most fractions are written in one such step
                while (digits <= MAX_DIGITS - 8 && i + 8 <= to) {
                    long eight = (long) LONG_LE.get(b, i);
                    if (!eightDigits(eight)) {
                        break;
                    }
                    mantissa = mantissa * 100_000_000L + eightDigitsValue(eight);
                    // leading zeros of the fraction count as digits here: at worst the slow path
                    digits += 8;
                    exponent -= 8;
                    i += 8;
                }
                while (i < to && (c = b[i]) >= '0' && c <= '9') {
                    if (mantissa == 0 && c == '0') {
                        exponent--; // a leading zero of the fraction carries no digit
                    } else {
                        if (digits < MAX_DIGITS) {
                            mantissa = mantissa * 10 + (c - '0');
                            exponent--;
                        }
                        digits++;
                    }
                    i++;
                }
                if (i == fractionStart) {
                    return -1;
                }
            }
            if (i < to && (b[i] == 'e' || b[i] == 'E')) {
                integer = false;
                i++;
                boolean negativeExponent = false;
                if (i < to && (b[i] == '+' || b[i] == '-')) {
                    negativeExponent = b[i] == '-';
                    i++;
                }
                int exponentStart = i;
                int value = 0;
                while (i < to && (c = b[i]) >= '0' && c <= '9') {
                    if (value < 100_000) {
                        value = value * 10 + (c - '0');
                    }
                    i++;
                }
                if (i == exponentStart) {
                    return -1;
                }
                exponent += negativeExponent ? -value : value;
            }
            // the number must end at a delimiter, as Jackson requires
            if (i < to) {
                byte d = b[i];
                if (d != ',' && d != ']' && !isWhitespace(d)) {
                    return -1;
                }
            }
            if (i - start > MAX_NUMBER_LENGTH) {
                return -1;
            }
            boolean exact = digits <= MAX_DIGITS;
            boolean stored;
            if (f32 != null) {
                stored = storeFloat(start, i, negative, mantissa, exponent, exact, integer);
            } else if (f64 != null) {
                stored = storeDouble(start, i, negative, mantissa, exponent, exact, integer);
            } else {
                stored = storeInteger(negative, mantissa, digits, integer);
            }
            return stored ? i : -1;
        }

        private boolean storeFloat(int start, int end, boolean negative, long mantissa, int exponent, boolean exact,
                boolean integer) {
            if (mantissa == 0 && exact) {
                f32[n] = negative && !integer ? -0.0f : 0.0f;
                return true;
            }
            double d = exact ? clinger(mantissa, exponent) : Double.NaN;
            float f;
            if (!Double.isNaN(d)) {
                f = (float) d;
                long bits = Double.doubleToRawLongBits(d);
                // exactly halfway between two floats, or a float with fewer than 24 bits: let Jackson round it
                if ((bits & 0x1FFF_FFFFL) == 0x1000_0000L || Math.abs(d) < Float.MIN_NORMAL) {
                    f = slowFloat(start, end);
                } else if (negative) {
                    f = -f;
                }
            } else {
                f = slowFloat(start, end);
            }
            if (Float.isInfinite(f)) {
                return false; // out of range: Jackson's path refuses it with its message
            }
            f32[n] = f;
            return true;
        }

        private boolean storeDouble(int start, int end, boolean negative, long mantissa, int exponent, boolean exact,
                boolean integer) {
            if (mantissa == 0 && exact) {
                f64[n] = negative && !integer ? -0.0 : 0.0;
                return true;
            }
            double d = exact ? clinger(mantissa, exponent) : Double.NaN;
            if (Double.isNaN(d)) {
                d = slowDouble(start, end);
            } else if (negative) {
                d = -d;
            }
            if (Double.isInfinite(d)) {
                return false;
            }
            f64[n] = d;
            return true;
        }

        private boolean storeInteger(boolean negative, long mantissa, int digits, boolean integer) {
            // fractions, exponents and 19-digit magnitudes (possibly beyond a long) go to Jackson
            if (!integer || digits > MAX_DIGITS) {
                return false;
            }
            long v = negative ? -mantissa : mantissa;
            if (v < min || v > max) {
                return false;
            }
            if (i8 != null) {
                i8[n] = (byte) v;
            } else if (i16 != null) {
                i16[n] = (short) v;
            } else if (i32 != null) {
                i32[n] = (int) v;
            } else {
                i64[n] = v;
            }
            return true;
        }

        private float slowFloat(int start, int end) {
            return NumberInput.parseFloat(new String(b, start, end - start, StandardCharsets.ISO_8859_1), true);
        }

        private double slowDouble(int start, int end) {
            return NumberInput.parseDouble(new String(b, start, end - start, StandardCharsets.ISO_8859_1), true);
        }
    }

    private static boolean isWhitespace(byte c) {
        return c == ' ' || c == '\n' || c == '\r' || c == '\t';
    }

    /**
     * How many of the eight bytes of {@code v} (little-endian: the first in the lowest byte)
     * are ASCII digits before the first that is not; 8 if all are.
     */
    private static int digitRun(long v) {
        // a byte of t is zero exactly where v holds a digit; a carry out of a byte of at least
        // 0xFA (not a digit) can only disturb the bytes after it, which do not count
        long t = ((v & 0xF0F0_F0F0_F0F0_F0F0L) ^ 0x3030_3030_3030_3030L)
                | (((v + 0x0606_0606_0606_0606L) & 0xF0F0_F0F0_F0F0_F0F0L) ^ 0x3030_3030_3030_3030L);
        long nonZero = (((t & 0x7F7F_7F7F_7F7F_7F7FL) + 0x7F7F_7F7F_7F7F_7F7FL) | t) & 0x8080_8080_8080_8080L;
        return Long.numberOfTrailingZeros(nonZero) >>> 3;
    }

    /** The value of the first {@code k} (1 to 8) bytes of {@code v}, which are ASCII digits. */
    private static long leadingDigitsValue(long v, int k) {
        // move them to the top: the bytes shifted in are zero, which reads as leading zeros
        return eightDigitsValue(v << (64 - 8 * k));
    }

    /** Whether all eight bytes of {@code v} (little-endian) are ASCII digits. */
    private static boolean eightDigits(long v) {
        return (v & 0xF0F0_F0F0_F0F0_F0F0L) == 0x3030_3030_3030_3030L
                && ((v + 0x0606_0606_0606_0606L) & 0xF0F0_F0F0_F0F0_F0F0L) == 0x3030_3030_3030_3030L;
    }

    /** The value of eight ASCII digits loaded little-endian (the first digit in the lowest byte). */
    private static long eightDigitsValue(long v) {
        v = ((v & 0x0F0F_0F0F_0F0F_0F0FL) * 2561) >>> 8;
        v = ((v & 0x00FF_00FF_00FF_00FFL) * 6_553_601) >>> 16;
        return ((v & 0x0000_FFFF_0000_FFFFL) * 42_949_672_960_001L) >>> 32;
    }

    /** |value| as a correctly rounded double when Clinger's fast path applies, else NaN. */
    private static double clinger(long mantissa, int exponent) {
        if (mantissa > MAX_EXACT_MANTISSA || exponent < -22 || exponent > 22) {
            return Double.NaN;
        }
        double m = mantissa;
        return exponent >= 0 ? m * POWERS_OF_TEN[exponent] : m / POWERS_OF_TEN[-exponent];
    }
}
