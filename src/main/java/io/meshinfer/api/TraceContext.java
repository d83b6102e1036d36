package io.meshinfer.api;

import java.util.concurrent.ThreadLocalRandom;

/**
 * Where a request stands in a distributed trace, after W3C Trace Context
 * (https://www.w3.org/TR/trace-context/): the 128-bit trace id (two longs), the span id of
 * the hop now working on the request, the span id of the hop that called it (0: none, the
 * trace started here) and the trace flags. Ids are kept as numbers and formatted as hex only
 * when something prints them (a log line, an audit record, a response header), so carrying a
 * trace costs one small object per hop and no string work on the hot path.
 *
 * <p>A request entering a node continues its caller's trace ({@link #continueFrom}: same
 * trace id, a new span whose parent is the caller's span) or starts a new one; each node it
 * is sent to for serving makes a {@link #child()}. Ids come from {@link ThreadLocalRandom}:
 * they must be unique, not secret. Parsing is by hand (no regex) and never throws; it
 * returns null for anything the specification says to ignore.
 *
 * @param traceIdHigh the trace id's first 64 bits
 * @param traceIdLow the trace id's last 64 bits (the two are never both 0)
 * @param spanId this hop's span id (never 0); in a context parsed from a header, the caller's
 * @param parentSpanId the calling hop's span id, or 0 when the trace started at this hop
 * @param flags the trace flags (bit 0: sampled)
 */
public record TraceContext(long traceIdHigh, long traceIdLow, long spanId, long parentSpanId, int flags) {
    /** The {@code traceparent} header: version 00, {@code 00-<32 hex>-<16 hex>-<2 hex>}. */
    public static final String TRACEPARENT = "traceparent";
    /** The {@code tracestate} header, returned unchanged when it is well-formed. */
    public static final String TRACESTATE = "tracestate";
    /** The trace flag that says the caller may record the trace. */
    public static final int SAMPLED = 0x01;
    /** Longest {@code tracestate} kept (the specification's minimum that must be propagated). */
    public static final int MAX_TRACESTATE_LENGTH = 512;

    private static final int TRACEPARENT_LENGTH = 55;
    private static final int MAX_TRACESTATE_MEMBERS = 32;
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    public TraceContext {
        if (traceIdHigh == 0 && traceIdLow == 0) {
            throw new IllegalArgumentException("a trace id must not be all zeros");
        }
        if (spanId == 0) {
            throw new IllegalArgumentException("a span id must not be all zeros");
        }
        if (flags < 0 || flags > 0xff) {
            throw new IllegalArgumentException("trace flags are one byte, not " + flags);
        }
    }

    /**
     * A new trace: a random trace id and span id, no parent, sampled (meshinfer records every
     * request in its logs and audit log).
     */
    public static TraceContext newTrace() {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        long high = r.nextLong();
        long low = r.nextLong();
        if (high == 0 && low == 0) {
            low = 1;
        }
        return new TraceContext(high, low, nonZero(r), 0, SAMPLED);
    }

    /** The context of a hop called by {@code caller}: a child of it, or a new trace when there is none. */
    public static TraceContext continueFrom(TraceContext caller) {
        return caller == null ? newTrace() : caller.child();
    }

    /** The same trace, a new span whose parent is this one. */
    public TraceContext child() {
        return new TraceContext(traceIdHigh, traceIdLow, nonZero(ThreadLocalRandom.current()), spanId, flags);
    }

    private static long nonZero(ThreadLocalRandom r) {
        long v;
        do {
            v = r.nextLong();
        } while (v == 0);
        return v;
    }

    public boolean sampled() {
        return (flags & SAMPLED) != 0;
    }

    /** The trace id: 32 lower-case hex digits. */
    public String traceId() {
        char[] c = new char[32];
        hex(traceIdHigh, c, 0);
        hex(traceIdLow, c, 16);
        return new String(c);
    }

    /** This hop's span id: 16 lower-case hex digits. */
    public String spanIdHex() {
        return hex16(spanId);
    }

    /** The calling hop's span id as 16 hex digits, or null when the trace started at this hop. */
    public String parentSpanIdHex() {
        return parentSpanId == 0 ? null : hex16(parentSpanId);
    }

    /** This hop as a version 00 {@code traceparent} header: the trace id, this span, the flags. */
    public String traceparent() {
        char[] c = new char[TRACEPARENT_LENGTH];
        c[0] = '0';
        c[1] = '0';
        c[2] = '-';
        hex(traceIdHigh, c, 3);
        hex(traceIdLow, c, 19);
        c[35] = '-';
        hex(spanId, c, 36);
        c[52] = '-';
        c[53] = HEX[(flags >>> 4) & 0xf];
        c[54] = HEX[flags & 0xf];
        return new String(c);
    }

    @Override
    public String toString() {
        return traceparent();
    }

    private static String hex16(long v) {
        char[] c = new char[16];
        hex(v, c, 0);
        return new String(c);
    }

    private static void hex(long v, char[] into, int at) {
        for (int i = 15; i >= 0; i--) {
            into[at + i] = HEX[(int) (v & 0xf)];
            v >>>= 4;
        }
    }

    /**
     * The caller's context from a {@code traceparent} header value, or null when it is missing
     * or invalid (the receiver then starts a new trace). The returned context's
     * {@link #spanId()} is the caller's span (the header's parent-id) and it has no parent.
     * Version 00 must be exactly {@code 00-<32 hex>-<16 hex>-<2 hex>} in lower case, with
     * neither id all zeros. A later version ({@code 01} to {@code fe}) is read as far as
     * version 00 goes: at least 55 characters, the same fields, then the end or a {@code -}
     * and whatever that version adds; of its flags only the sampled bit is kept. Version
     * {@code ff} is invalid.
     */
    public static TraceContext parse(CharSequence header) {
        if (header == null || header.length() < TRACEPARENT_LENGTH) {
            return null;
        }
        int version = hexByte(header, 0);
        if (version < 0 || version == 0xff) {
            return null;
        }
        int length = header.length();
        if (version == 0 ? length != TRACEPARENT_LENGTH
                : length > TRACEPARENT_LENGTH && header.charAt(TRACEPARENT_LENGTH) != '-') {
            return null;
        }
        if (header.charAt(2) != '-' || header.charAt(35) != '-' || header.charAt(52) != '-') {
            return null;
        }
        long high = hexLong(header, 3);
        long low = hexLong(header, 19);
        long parent = hexLong(header, 36);
        int flags = hexByte(header, 53);
        if (high == -1 && !isHex16(header, 3) || low == -1 && !isHex16(header, 19)
                || parent == -1 && !isHex16(header, 36) || flags < 0) {
            return null;
        }
        if (high == 0 && low == 0 || parent == 0) {
            return null;
        }
        return new TraceContext(high, low, parent, 0, version == 0 ? flags : flags & SAMPLED);
    }

    /** 16 lower-case hex digits at {@code at} as a long; -1 also when they are not hex (check with isHex16). */
    private static long hexLong(CharSequence s, int at) {
        long v = 0;
        for (int i = at; i < at + 16; i++) {
            int d = digit(s.charAt(i));
            if (d < 0) {
                return -1;
            }
            v = (v << 4) | d;
        }
        return v;
    }

    private static boolean isHex16(CharSequence s, int at) {
        for (int i = at; i < at + 16; i++) {
            if (digit(s.charAt(i)) < 0) {
                return false;
            }
        }
        return true;
    }

    private static int hexByte(CharSequence s, int at) {
        int hi = digit(s.charAt(at));
        int lo = digit(s.charAt(at + 1));
        return hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
    }

    /** A lower-case hex digit's value, or -1 (upper case is invalid in trace context). */
    private static int digit(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        return -1;
    }

    /**
     * {@code tracestate} as received when it is well-formed and at most
     * {@value #MAX_TRACESTATE_LENGTH} characters, else null (dropped). Well-formed: at most 32
     * comma-separated list members (empty ones allowed), each {@code key=value} with a key of
     * lower-case letters, digits and {@code _-*}{@code /}, optionally {@code tenant@system},
     * starting with a letter or digit, at most 256 characters, and a value of 1 to 256
     * printable ASCII characters other than {@code ,} and {@code =}, not ending in a space.
     */
    public static String acceptTracestate(String header) {
        if (header == null || header.isEmpty() || header.length() > MAX_TRACESTATE_LENGTH) {
            return null;
        }
        int members = 0;
        int start = 0;
        int n = header.length();
        while (start <= n) {
            int end = header.indexOf(',', start);
            if (end < 0) {
                end = n;
            }
            int from = start;
            int to = end;
            while (from < to && (header.charAt(from) == ' ' || header.charAt(from) == '\t')) {
                from++;
            }
            while (to > from && (header.charAt(to - 1) == ' ' || header.charAt(to - 1) == '\t')) {
                to--;
            }
            if (from < to) {
                if (++members > MAX_TRACESTATE_MEMBERS || !validMember(header, from, to)) {
                    return null;
                }
            }
            start = end + 1;
        }
        return members == 0 ? null : header;
    }

    private static boolean validMember(String s, int from, int to) {
        int eq = s.indexOf('=', from);
        if (eq <= from || eq >= to - 1 || eq - from > 256 || to - eq - 1 > 256) {
            return false;
        }
        char first = s.charAt(from);
        if (!(first >= 'a' && first <= 'z' || first >= '0' && first <= '9')) {
            return false;
        }
        boolean at = false;
        for (int i = from; i < eq; i++) {
            char c = s.charAt(i);
            if (c == '@') {
                if (at || i == eq - 1) {
                    return false;
                }
                at = true;
            } else if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '*'
                    || c == '/')) {
                return false;
            }
        }
        for (int i = eq + 1; i < to; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c > 0x7e || c == ',' || c == '=') {
                return false;
            }
        }
        return s.charAt(to - 1) != ' ';
    }
}
