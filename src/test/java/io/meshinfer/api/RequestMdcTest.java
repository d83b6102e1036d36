package io.meshinfer.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

class RequestMdcTest {

    @Test
    void aScopePutsTheIdAndRestoresWhatWasThere() {
        assertNull(MDC.get(RequestMdc.KEY));
        try (RequestMdc.Scope outer = RequestMdc.open("outer")) {
            try (RequestMdc.Scope inner = RequestMdc.open("inner")) {
                assertEquals("inner", MDC.get(RequestMdc.KEY));
            }
            // a retry that completes synchronously inside a callback must not erase the caller's id
            assertEquals("outer", MDC.get(RequestMdc.KEY));
        }
        assertNull(MDC.get(RequestMdc.KEY));
    }

    @Test
    void aCallersIdCannotForgeLogLinesOrFloodThem() {
        assertEquals("r1?INFO forged", RequestMdc.clean("r1\nINFO forged"));
        assertEquals("a?b?c", RequestMdc.clean("a\rb\u001bc"));
        assertEquals(RequestMdc.MAX_LENGTH, RequestMdc.clean("x".repeat(10_000)).length());
        assertEquals("-", RequestMdc.clean(null));
    }
}
