package io.meshinfer.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Parsing and formatting W3C {@code traceparent} and {@code tracestate}, and spans of one trace. */
class TraceContextTest {
    private static final String TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
    private static final String PARENT = "00f067aa0ba902b7";
    private static final String VALID = "00-" + TRACE + "-" + PARENT + "-01";

    @Test
    void aValidHeaderIsReadAndWrittenBackUnchanged() {
        TraceContext t = TraceContext.parse(VALID);
        assertNotNull(t);
        assertEquals(0x4bf92f3577b34da6L, t.traceIdHigh());
        assertEquals(0xa3ce929d0e0e4736L, t.traceIdLow());
        assertEquals(0x00f067aa0ba902b7L, t.spanId());
        assertEquals(0, t.parentSpanId());
        assertNull(t.parentSpanIdHex());
        assertTrue(t.sampled());
        assertEquals(TRACE, t.traceId());
        assertEquals(PARENT, t.spanIdHex());
        assertEquals(VALID, t.traceparent());
    }

    @Test
    void flagsAndIdsWithTheHighBitSetSurviveTheRoundTrip() {
        String header = "00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-00";
        TraceContext t = TraceContext.parse(header);
        assertNotNull(t);
        assertEquals(-1L, t.traceIdHigh());
        assertEquals(-1L, t.spanId());
        assertFalse(t.sampled());
        assertEquals(header, t.traceparent());
        assertEquals("00-" + TRACE + "-" + PARENT + "-ff",
                TraceContext.parse("00-" + TRACE + "-" + PARENT + "-ff").traceparent(), "version 00 keeps every flag");
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "",
            "garbage",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", // upper case
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // all-zero trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // all-zero parent id
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  // trace id one short
            "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01", // one long
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", // version 00 has nothing after the flags
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // version ff is invalid
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
            "00-4bf92f3577b34da6a3ce9 9d0e0e4736-00f067aa0ba902b7-01",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", // a later version: dash after the flags
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",     // a later version, too short
            "\u0000\u0000-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    })
    void anInvalidHeaderIsIgnored(String header) {
        assertNull(TraceContext.parse(header), header);
    }

    @Test
    void nullIsNoHeader() {
        assertNull(TraceContext.parse(null));
    }

    @Test
    void aLaterVersionIsReadAsFarAsVersion00Goes() {
        TraceContext t = TraceContext.parse("cc-" + TRACE + "-" + PARENT + "-03-what-the-future-will-hold");
        assertNotNull(t);
        assertEquals(TRACE, t.traceId());
        assertEquals(PARENT, t.spanIdHex());
        assertEquals(TraceContext.SAMPLED, t.flags(), "only the sampled bit of an unknown version's flags");
        assertEquals("00-" + TRACE + "-" + PARENT + "-01", t.traceparent(), "sent on as version 00");
        assertNotNull(TraceContext.parse("01-" + TRACE + "-" + PARENT + "-00"), "exactly 55 characters");
        assertFalse(TraceContext.parse("01-" + TRACE + "-" + PARENT + "-00").sampled());
    }

    @Test
    void aHopContinuesTheTraceWithASpanOfItsOwn() {
        TraceContext caller = TraceContext.parse(VALID);
        TraceContext hop = TraceContext.continueFrom(caller);
        assertEquals(TRACE, hop.traceId());
        assertEquals(PARENT, hop.parentSpanIdHex());
        assertNotEquals(caller.spanId(), hop.spanId());
        assertEquals(caller.flags(), hop.flags());
        TraceContext next = hop.child();
        assertEquals(TRACE, next.traceId());
        assertEquals(hop.spanId(), next.parentSpanId());
        assertNotEquals(hop.spanId(), next.spanId());
        String header = next.traceparent();
        assertEquals(55, header.length());
        assertEquals(next.traceId(), TraceContext.parse(header).traceId());
        assertEquals(next.spanId(), TraceContext.parse(header).spanId());
    }

    @Test
    void withoutACallerANewValidTraceStarts() {
        Set<String> traces = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            TraceContext t = TraceContext.continueFrom(null);
            assertEquals(0, t.parentSpanId());
            assertTrue(t.sampled());
            assertNotNull(TraceContext.parse(t.traceparent()), t.traceparent());
            assertTrue(traces.add(t.traceId()), "trace ids are unique");
        }
    }

    @Test
    void zeroIdsCannotBeBuilt() {
        assertThrows(IllegalArgumentException.class, () -> new TraceContext(0, 0, 1, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new TraceContext(0, 1, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new TraceContext(0, 1, 1, 0, 256));
    }

    @Test
    void aWellFormedTracestateIsKeptUnchanged() {
        for (String s : new String[] {"congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
                "a=1, b=2 ,,\tc=3", "tenant@vendor=x", "k_-*/9=v v", "x=~!"}) {
            assertEquals(s, TraceContext.acceptTracestate(s), s);
        }
        String longest = "a=" + "x".repeat(256) + ",b=" + "y".repeat(251);
        assertEquals(512, longest.length());
        assertEquals(longest, TraceContext.acceptTracestate(longest));
    }

    @Test
    void aTooLongOrMalformedTracestateIsDropped() {
        assertNull(TraceContext.acceptTracestate(null));
        assertNull(TraceContext.acceptTracestate(""));
        assertNull(TraceContext.acceptTracestate(" , "));
        assertNull(TraceContext.acceptTracestate("a=" + "x".repeat(256) + ",b=" + "y".repeat(252)), "513 chars");
        StringBuilder many = new StringBuilder();
        for (int i = 0; i < 33; i++) {
            many.append(i == 0 ? "" : ",").append("k").append(i).append("=v");
        }
        assertNull(TraceContext.acceptTracestate(many.toString()), "33 members");
        for (String s : new String[] {"novalue", "=v", "k=", "K=v", "_k=v", "k=v=w", "k=v\u0001", "k=v\u00e9",
                "a@=v", "a@b@c=v", "k=" + "v".repeat(257), "k=v,bad", "k= v ,x"}) {
            assertNull(TraceContext.acceptTracestate(s), s);
        }
    }
}
