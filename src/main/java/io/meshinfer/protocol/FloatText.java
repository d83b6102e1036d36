package io.meshinfer.protocol;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.math.BigInteger;
import java.nio.ByteOrder;

/**
 * The shortest decimal text that reads back as the same float, written as ASCII bytes
 * straight into a caller's buffer: Raffaello Giulietti's Schubfach algorithm ("The
 * Schubfach way to render doubles", 2020), as the JDK (since 19) and Jackson's fast writer
 * implement it for {@code float}.
 *
 * <p>The text is exactly Jackson's for a float (its {@code FloatToDecimal}, the
 * {@code USE_FAST_DOUBLE_WRITER} our JSON codec enables): plain notation for magnitudes in
 * [10^-3, 10^7), computerized scientific notation ({@code 1.0E-5}) outside it, at least one
 * digit after the point. So a JSON body written here is byte for byte the body Jackson
 * writes. Jackson creates two objects and a {@code String} per number; this creates none.
 * Non-finite values are not numbers in JSON: {@link #write} refuses them and the caller
 * writes them as Jackson does ({@code WRITE_NAN_AS_STRINGS}).
 */
final class FloatText {
    /** The bytes {@link #write} may write: the longest text, {@code -1.17549435E-38}, has 15. */
    static final int ROOM = 17;

    private static final int P = 24; // significand bits, the hidden one included
    private static final int Q_MIN = -149; // exponent of the least subnormal's bit
    private static final int C_MIN = 1 << (P - 1);
    private static final int C_TINY = 8; // subnormal significands below this get one more digit
    private static final int K_MIN = -45;
    private static final int K_MAX = 31;
    private static final int H = 9; // most digits a float needs
    private static final long MASK_32 = (1L << 32) - 1;
    private static final VarHandle LONG_LE = MethodHandles.byteArrayViewVarHandle(long[].class,
            ByteOrder.LITTLE_ENDIAN);
    private static final int[] POW10 = {
        1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000};
    /** For 10^-k = beta 2^r with 2^125 <= beta < 2^126: the top 63 bits of floor(beta) + 1. */
    private static final long[] G1 = new long[K_MAX - K_MIN + 1];

    static {
        for (int k = K_MIN; k <= K_MAX; k++) {
            int r = flog2pow10(-k) - 125;
            BigInteger beta;
            if (k <= 0) {
                BigInteger p = BigInteger.TEN.pow(-k);
                beta = r >= 0 ? p.shiftRight(r) : p.shiftLeft(-r);
            } else {
                beta = BigInteger.ONE.shiftLeft(-r).divide(BigInteger.TEN.pow(k));
            }
            G1[k - K_MIN] = beta.add(BigInteger.ONE).shiftRight(63).longValueExact();
        }
    }

    private FloatText() {
    }

    /**
     * Writes {@code v}'s shortest text at {@code at}, which has {@link #ROOM} bytes of room,
     * and returns the index after it. Bytes after that index, within the room, may be
     * overwritten: all nine digits are written before trailing zeroes are dropped.
     *
     * @throws IllegalArgumentException if {@code v} is NaN or infinite
     */
    static int write(float v, byte[] buf, int at) {
        int bits = Float.floatToRawIntBits(v);
        int t = bits & (C_MIN - 1);
        int bq = (bits >>> (P - 1)) & 0xFF;
        if (bq == 0xFF) {
            throw new IllegalArgumentException("not a finite number: " + v);
        }
        int i = at;
        if (bits < 0) {
            buf[i++] = '-';
        }
        if (bq != 0) {
            int mq = -Q_MIN + 1 - bq; // -q of the value c 2^q
            int c = C_MIN | t;
            if (0 < mq && mq < P) {
                int f = c >> mq;
                if (f << mq == c) { // an integer: its digits are the answer
                    return digits(f, 0, buf, i);
                }
            }
            return decimal(-mq, c, 0, buf, i);
        }
        if (t != 0) {
            return t < C_TINY ? decimal(Q_MIN, 10 * t, -1, buf, i) : decimal(Q_MIN, t, 0, buf, i);
        }
        buf[i] = '0';
        buf[i + 1] = '.';
        buf[i + 2] = '0';
        return i + 3;
    }

    /** Writes the shortest decimal in the rounding interval of c 2^q (section 9 of the paper). */
    private static int decimal(int q, int c, int dk, byte[] buf, int at) {
        int out = c & 1;
        long cb = (long) c << 2;
        long cbr = cb + 2;
        long cbl;
        int k;
        if (c != C_MIN || q == Q_MIN) {
            cbl = cb - 2;
            k = flog10pow2(q);
        } else {
            cbl = cb - 1; // the interval below a power of two is half as wide
            k = flog10threeQuartersPow2(q);
        }
        int h = q + flog2pow10(-k) + 33;
        long g = G1[k - K_MIN] + 1;
        int vb = rop(g, cb << h);
        int vbl = rop(g, cbl << h);
        int vbr = rop(g, cbr << h);
        int s = vb >> 2;
        if (s >= 100) {
            // one digit fewer, if either neighbouring multiple of ten lies in the interval
            int sp10 = 10 * (int) (s * 1_717_986_919L >>> 34);
            int tp10 = sp10 + 10;
            boolean upin = vbl + out <= sp10 << 2;
            boolean wpin = (tp10 << 2) + out <= vbr;
            if (upin != wpin) {
                return digits(upin ? sp10 : tp10, k, buf, at);
            }
        }
        int t = s + 1;
        boolean uin = vbl + out <= s << 2;
        boolean win = (t << 2) + out <= vbr;
        if (uin != win) {
            return digits(uin ? s : t, k + dk, buf, at);
        }
        int cmp = vb - ((s + t) << 1); // both in the interval: the closer, or the even one on a tie
        return digits(cmp < 0 || cmp == 0 && (s & 1) == 0 ? s : t, k + dk, buf, at);
    }

    /** Rounds g cp / 2^127 to odd, as the paper's rop does for floats. */
    private static int rop(long g, long cp) {
        long x1 = Math.multiplyHigh(g, cp);
        long vbp = x1 >>> 31;
        return (int) (vbp | ((x1 & MASK_32) + MASK_32) >>> 32);
    }

    /**
     * Writes f 10^e in the format of {@link Float#toString} since Java 19. The digits are
     * made eight at a time in one long and trailing zeroes are counted, not scanned for:
     * how many digits a float needs varies from one to the next, so loops and tests on it
     * mispredict.
     */
    private static int digits(int f, int e, byte[] buf, int at) {
        int len = flog10pow2(Integer.SIZE - Integer.numberOfLeadingZeros(f));
        if (f >= POW10[len]) {
            len++;
        }
        // scale to nine digits: f 10^e = 0.f' 10^e'
        f *= POW10[H - len];
        e += len;
        int h = f / 100_000_000; // the first digit, never 0
        long raw = eightDigits(f - 100_000_000 * h); // the other eight, one per byte, the first lowest
        int zeroes = Long.numberOfLeadingZeros(raw) >>> 3; // trailing zero digits among the eight
        long ascii = raw + 0x3030_3030_3030_3030L;
        byte first = (byte) ('0' + h);
        if (0 < e && e <= 7) {
            // h and e - 1 more digits, the point, the rest: the eight written twice, the second
            // time moved past the point; at least one digit after it
            buf[at] = first;
            LONG_LE.set(buf, at + 1, ascii);
            LONG_LE.set(buf, at + e + 1, ascii >>> 8 * (e - 1)); // zero bytes shifted in lie past the end
            buf[at + e] = '.';
            return Math.max(at + 10 - zeroes, at + e + 2);
        }
        if (-3 < e && e <= 0) {
            buf[at] = '0';
            buf[at + 1] = '.';
            buf[at + 2] = '0';
            buf[at + 3] = '0';
            int i = at + 2 - e;
            buf[i] = first;
            LONG_LE.set(buf, i + 1, ascii);
            return i + 9 - zeroes;
        }
        buf[at] = first;
        buf[at + 1] = '.';
        LONG_LE.set(buf, at + 2, ascii);
        return exponent(e - 1, buf, Math.max(at + 10 - zeroes, at + 3));
    }

    /** The eight decimal digits of m (below 10^8) as byte values 0-9 of a long, the first in the lowest byte. */
    private static long eightDigits(int m) {
        long v = (m / 10_000) | (long) (m % 10_000) << 32; // two lanes of four digits
        long hundreds = (v * 10_486 >>> 20) & 0x0000_007F_0000_007FL; // each lane / 100
        v = hundreds | (v - 100 * hundreds) << 16; // four lanes of two digits
        long tens = (v * 103 >>> 10) & 0x000F_000F_000F_000FL; // each lane / 10
        return tens | (v - 10 * tens) << 8;
    }

    private static int exponent(int e, byte[] buf, int at) {
        int i = at;
        buf[i++] = 'E';
        if (e < 0) {
            buf[i++] = '-';
            e = -e;
        }
        if (e < 10) {
            buf[i++] = (byte) ('0' + e);
            return i;
        }
        int d = e * 103 >>> 10; // e / 10 for e < 100
        buf[i++] = (byte) ('0' + d);
        buf[i++] = (byte) ('0' + e - 10 * d);
        return i;
    }

    /** floor(e log10(2)) for |e| <= 5456721. */
    private static int flog10pow2(int e) {
        return (int) (e * 661_971_961_083L >> 41);
    }

    /** floor(e log10(3/4 2)) for |e| <= 1_838_394. */
    private static int flog10threeQuartersPow2(int e) {
        return (int) ((e * 661_971_961_083L + -274_743_187_321L) >> 41);
    }

    /** floor(e log2(10)) for |e| <= 1_233_686. */
    private static int flog2pow10(int e) {
        return (int) (e * 913_124_641_741L >> 38);
    }
}
