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
}
