package io.meshinfer.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

class RequestMdcTest {

    @Test
    void theIdIsInTheMdcWhileLoggingAndWhatWasThereComesBack() {
        assertNull(MDC.get(RequestMdc.KEY));
        RequestMdc.run("outer", () -> {
            assertEquals("inner", RequestMdc.supply("inner", () -> MDC.get(RequestMdc.KEY)));
            // a retry that completes synchronously inside a callback must not erase the caller's id
            assertEquals("outer", MDC.get(RequestMdc.KEY));
        });
        assertNull(MDC.get(RequestMdc.KEY));
        assertThrows(IllegalStateException.class, () -> RequestMdc.run("failing", () -> {
            throw new IllegalStateException("logging failed");
        }));
        assertNull(MDC.get(RequestMdc.KEY), "removed even when the logging code throws");
    }

    @Test
    void aCallersIdCannotForgeLogLinesOrFloodThem() {
        assertEquals("r1?INFO forged", RequestMdc.clean("r1\nINFO forged"));
        assertEquals("a?b?c", RequestMdc.clean("a\rb\u001bc"));
        assertEquals(RequestMdc.MAX_LENGTH, RequestMdc.clean("x".repeat(10_000)).length());
        assertEquals("-", RequestMdc.clean(null));
    }

    @Test
    void theTraceIsInTheMdcBesideTheIdAndWhatWasThereComesBack() {
        TraceContext entry = TraceContext.continueFrom(TraceContext.parse(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
        InferenceRequest request = InferenceRequest.builder("m").id("r-1")
                .traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").build();
        RequestMdc.run(request, () -> {
            assertEquals("r-1", MDC.get(RequestMdc.KEY));
            assertEquals("4bf92f3577b34da6a3ce929d0e0e4736", MDC.get(RequestMdc.TRACE_ID));
            assertEquals(request.trace().spanIdHex(), MDC.get(RequestMdc.SPAN_ID));
            assertEquals("00f067aa0ba902b7", MDC.get(RequestMdc.PARENT_SPAN_ID));
            TraceContext root = TraceContext.newTrace();
            RequestMdc.run("r-2", root, () -> {
                assertEquals(root.traceId(), MDC.get(RequestMdc.TRACE_ID));
                assertNull(MDC.get(RequestMdc.PARENT_SPAN_ID), "a trace started here has no parent");
            });
            assertEquals("00f067aa0ba902b7", MDC.get(RequestMdc.PARENT_SPAN_ID));
            assertEquals(request.trace().spanIdHex(), MDC.get(RequestMdc.SPAN_ID));
        });
        assertNull(MDC.get(RequestMdc.TRACE_ID));
        assertNull(MDC.get(RequestMdc.SPAN_ID));
        assertNull(MDC.get(RequestMdc.PARENT_SPAN_ID));
        assertEquals(entry.traceId(), request.trace().traceId());
    }
}
