package io.meshinfer.protocol;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Where the large {@code "data"} arrays of a body's tensors lie, found by one pass over the
 * bytes, and the body with each of them replaced by a {@code 0}, for Jackson to read the
 * rest. Jackson then reads a few hundred bytes of structure instead of tokenizing every
 * number of an image, and {@link TensorReader} reads each array from its span with
 * {@link NumberArrays} (or, for what that does not take, with Jackson on the span alone).
 *
 * <p>The scan follows the top-level object only as far as it must: the member named by the
 * list key (say {@code "inputs"}), that array's objects, and their {@code "data"} members
 * whose value is an array of at least the minimum length. Every other value is skipped by
 * bracket depth, minding strings and their escapes. Keys written with escapes are not
 * recognised (their tensors are read as before). Whatever the scan does not recognise
 * (malformed text, a second list key, a second {@code "data"} in one object) yields no spans,
 * and the body is read as before.
 *
 * <p>The spans are only trusted once each has read as one JSON array: a body whose spans all
 * read means the same with its arrays replaced by placeholders. A decoder that fails on the
 * compacted body must read the original again, so that refusals keep their wording and
 * positions.
 *
 * <p>Immutable after {@link #find}; thread-safe.
 */
final class DataSpans {
    /** Arrays shorter than this are left to Jackson: replacing them saves less than the copy costs. */
    static final int MIN_LENGTH = 256;

    private static final byte PLACEHOLDER = '0';
    /** 1 for the bytes that change the scan's state: quotes, brackets, braces. */
    private static final byte[] STRUCTURAL = new byte[256];

    static {
        for (char c : new char[] {'"', '[', ']', '{', '}'}) {
            STRUCTURAL[c] = 1;
        }
    }

    private static final VarHandle LONG_LE = MethodHandles.byteArrayViewVarHandle(long[].class,
            ByteOrder.LITTLE_ENDIAN);
    private static final long ONES = 0x0101_0101_0101_0101L;
    private static final long HIGH_BITS = 0x8080_8080_8080_8080L;

    private final byte[] body;
    /** Per tensor index, the span's start, or -1 where the tensor has none. */
    private final int[] starts;
    private final int[] ends;
    private final byte[] compacted;

    private DataSpans(byte[] body, int[] starts, int[] ends, byte[] compacted) {
        this.body = body;
        this.starts = starts;
        this.ends = ends;
        this.compacted = compacted;
    }

    /**
     * The spans of the {@code "data"} arrays of at least {@code minLength} bytes among the
     * first {@code maxTensors} objects of the top-level member named by {@code list} (say
     * {@code "inputs"}) of the JSON in
     * {@code body[0, end)}; null if there are none or the scan does not recognise the body.
     */
    static DataSpans find(byte[] body, int end, TensorReader.Role list, int minLength, int maxTensors) {
        if (body == null || end <= 0 || end > body.length) {
            return null;
        }
        Scan scan = new Scan(body, end, list.listKey, minLength, maxTensors);
        if (!scan.run() || scan.count == 0) {
            return null;
        }
        return new DataSpans(body, scan.starts, scan.ends, compact(body, end, scan.starts, scan.ends));
    }

    /** The body the spans point into. */
    byte[] body() {
        return body;
    }

    /** The JSON with each span replaced by one placeholder byte, as long as it is. */
    byte[] compacted() {
        return compacted;
    }

    boolean has(int index) {
        return index < starts.length && starts[index] >= 0;
    }

    int start(int index) {
        return starts[index];
    }

    int end(int index) {
        return ends[index];
    }

    private static byte[] compact(byte[] body, int end, int[] starts, int[] ends) {
        int removed = 0;
        for (int i = 0; i < starts.length; i++) {
            if (starts[i] >= 0) {
                removed += ends[i] - starts[i] - 1;
            }
        }
        byte[] out = new byte[end - removed];
        int from = 0;
        int to = 0;
        // spans lie in tensor order, which is body order
        for (int i = 0; i < starts.length; i++) {
            if (starts[i] < 0) {
                continue;
            }
            int n = starts[i] - from;
            System.arraycopy(body, from, out, to, n);
            to += n;
            out[to++] = PLACEHOLDER;
            from = ends[i];
        }
        System.arraycopy(body, from, out, to, end - from);
        return out;
    }

    /**
     * False only if none of the eight bytes in {@code v} is a quote, bracket or brace; true
     * for any of them and for some others (non-ASCII bytes, letters past 'O'), which the
     * caller then looks at one by one. Clearing bit 5 maps '{' and '}' onto '[' and ']', '"'
     * onto 0x02, and number text (digits, signs, '.', 'e', 'E', whitespace) below 0x50.
     */
    static boolean mayBeStructural(long v) {
        long x = v & 0xDFDF_DFDF_DFDF_DFDFL;
        long atLeast0x50 = ((x + 0x3030_3030_3030_3030L) | x) & HIGH_BITS;
        long y = x ^ 0x0202_0202_0202_0202L;
        long quote = (y - ONES) & ~y & HIGH_BITS;
        return (atLeast0x50 | quote) != 0;
    }

    /** One pass over one body; {@link #run} answers whether it recognised the structure. */
    private static final class Scan {
        private final byte[] b;
        private final int end;
        private final byte[] list;
        private final int minLength;
        private final int maxTensors;
        private int[] starts = new int[0];
        private int[] ends = new int[0];
        private int count;
        /** Whether the last {@link #afterValue} ended its container. */
        private boolean closed;

        Scan(byte[] b, int end, byte[] list, int minLength, int maxTensors) {
            this.b = b;
            this.end = end;
            this.list = list;
            this.minLength = minLength;
            this.maxTensors = maxTensors;
        }

        boolean run() {
            int i = whitespace(0);
            if (i >= end || b[i] != '{') {
                return false;
            }
            boolean seenList = false;
            i = whitespace(i + 1);
            if (i < end && b[i] == '}') {
                return true;
            }
            while (true) {
                int keyEnd = stringEnd(i);
                if (keyEnd < 0) {
                    return false;
                }
                boolean isList = isKey(i, keyEnd, list);
                i = colon(keyEnd + 1);
                if (i < 0) {
                    return false;
                }
                if (isList && seenList) {
                    return false;
                }
                seenList |= isList;
                i = isList && b[i] == '[' ? tensors(i) : skipValue(i);
                i = i < 0 ? -1 : afterValue(i, (byte) '}');
                if (i < 0 || closed) {
                    return i >= 0;
                }
            }
        }

        /** The array of tensor objects at {@code i}; returns the index after it, or -1. */
        private int tensors(int i) {
            i = whitespace(i + 1);
            if (i < end && b[i] == ']') {
                return i + 1;
            }
            int index = 0;
            while (i >= 0 && i < end) {
                i = b[i] == '{' && index < maxTensors ? tensor(i, index) : skipValue(i);
                index++;
                i = i < 0 ? -1 : afterValue(i, (byte) ']');
                if (i < 0 || closed) {
                    return i;
                }
            }
            return -1;
        }

        /** The tensor object at {@code i}; records its data span; returns the index after it, or -1. */
        private int tensor(int i, int index) {
            i = whitespace(i + 1);
            if (i < end && b[i] == '}') {
                return i + 1;
            }
            boolean seenData = false;
            while (i < end) {
                int keyEnd = stringEnd(i);
                if (keyEnd < 0) {
                    return -1;
                }
                boolean isData = keyEnd - i == 5 && b[i + 1] == 'd' && b[i + 2] == 'a' && b[i + 3] == 't'
                        && b[i + 4] == 'a';
                if (isData && seenData) {
                    return -1;
                }
                seenData |= isData;
                i = colon(keyEnd + 1);
                if (i < 0) {
                    return -1;
                }
                int start = i;
                i = skipValue(i);
                if (i < 0) {
                    return -1;
                }
                if (isData && b[start] == '[' && i - start >= minLength) {
                    record(index, start, i);
                }
                i = afterValue(i, (byte) '}');
                if (i < 0 || closed) {
                    return i;
                }
            }
            return -1;
        }

        /**
         * After a member of an object or an element of an array: the index after the
         * {@code close} that ends the container (and {@link #closed} set), or where the next
         * member starts after a comma; -1 if neither follows.
         */
        private int afterValue(int i, byte close) {
            i = whitespace(i);
            closed = i < end && b[i] == close;
            if (closed) {
                return i + 1;
            }
            return i < end && b[i] == ',' ? whitespace(i + 1) : -1;
        }

        private void record(int index, int start, int stop) {
            if (index >= starts.length) {
                int size = Math.min(maxTensors, Math.max(4, index * 2 + 1));
                int old = starts.length;
                starts = Arrays.copyOf(starts, size);
                ends = Arrays.copyOf(ends, size);
                Arrays.fill(starts, old, size, -1);
            }
            starts[index] = start;
            ends[index] = stop;
            count++;
        }

        /** After a key: the colon and the whitespace around it; returns where the value starts, or -1. */
        private int colon(int i) {
            i = whitespace(i);
            if (i >= end || b[i] != ':') {
                return -1;
            }
            i = whitespace(i + 1);
            return i < end ? i : -1;
        }

        /** Whether the string that opens at {@code open} and closes at {@code close} is {@code key}, unescaped. */
        private boolean isKey(int open, int close, byte[] key) {
            return close - open - 1 == key.length && Arrays.equals(b, open + 1, close, key, 0, key.length);
        }

        /** The index of the quote that closes the string opening at {@code i}, or -1. */
        private int stringEnd(int i) {
            if (i >= end || b[i] != '"') {
                return -1;
            }
            for (int j = i + 1; j < end; j++) {
                byte c = b[j];
                if (c == '\\') {
                    j++;
                } else if (c == '"') {
                    return j;
                }
            }
            return -1;
        }

        /** Skips the value at {@code i} by its brackets and strings; returns the index after it, or -1. */
        private int skipValue(int i) {
            byte c = b[i];
            if (c == '"') {
                int close = stringEnd(i);
                return close < 0 ? -1 : close + 1;
            }
            if (c == '[' || c == '{') {
                int depth = 0;
                for (int j = i; j < end; j++) {
                    // eight bytes at a time past runs of number text, which holds none of "[]{}
                    while (j + 8 <= end && !mayBeStructural((long) LONG_LE.get(b, j))) {
                        j += 8;
                    }
                    if (j >= end) {
                        break;
                    }
                    byte d = b[j];
                    if (STRUCTURAL[d & 0xFF] == 0) {
                        continue;
                    }
                    if (d == '"') {
                        j = stringEnd(j);
                        if (j < 0) {
                            return -1;
                        }
                    } else if (d == '[' || d == '{') {
                        depth++;
                    } else if (--depth == 0) {
                        return j + 1;
                    }
                }
                return -1;
            }
            int j = i;
            while (j < end) {
                byte d = b[j];
                if (d == ',' || d == '}' || d == ']' || d == ' ' || d == '\n' || d == '\r' || d == '\t') {
                    break;
                }
                j++;
            }
            return j > i ? j : -1;
        }

        private int whitespace(int i) {
            while (i < end) {
                byte c = b[i];
                if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
                    return i;
                }
                i++;
            }
            return i;
        }
    }
}
