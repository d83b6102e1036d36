package io.meshinfer.api;

import java.util.function.Supplier;
import org.slf4j.MDC;

/**
 * The id of the request a log line is about, in SLF4J's MDC under {@value #KEY}: the text log
 * format shows it as {@code request=<id>}, the JSON format under {@code mdc.requestId}; and,
 * when the request's {@link TraceContext} is given, its trace id, this hop's span id and the
 * calling hop's span id under {@value #TRACE_ID}, {@value #SPAN_ID} and
 * {@value #PARENT_SPAN_ID} (the names OpenTelemetry's log correlation uses), formatted only
 * when a line is actually logged. Request
 * handling runs on many threads (HTTP, router callbacks, model runs), so each log call about a
 * request runs inside {@link #run} or {@link #supply}, which put the id in the calling thread's
 * MDC and afterwards restore what was there (callbacks may nest). The id comes from the
 * caller: it is cut to {@value #MAX_LENGTH} characters and control characters are replaced,
 * so it cannot forge log lines.
 */
public final class RequestMdc {
    public static final String KEY = "requestId";
    public static final String TRACE_ID = "trace_id";
    public static final String SPAN_ID = "span_id";
    public static final String PARENT_SPAN_ID = "parent_span_id";
    static final int MAX_LENGTH = 128;

    private RequestMdc() {
    }

    /** Runs {@code logging} with {@code requestId} in this thread's MDC. */
    public static void run(String requestId, Runnable logging) {
        run(requestId, null, logging);
    }

    /** Runs {@code logging} with {@code requestId} and {@code trace} (null: none) in this thread's MDC. */
    public static void run(String requestId, TraceContext trace, Runnable logging) {
        supply(requestId, trace, () -> {
            logging.run();
            return null;
        });
    }

    /** Runs {@code logging} with the request's id and trace in this thread's MDC. */
    public static void run(InferenceRequest request, Runnable logging) {
        run(request.id(), request.trace(), logging);
    }

    /** Returns what {@code logging} returns, computed with {@code requestId} in this thread's MDC. */
    public static <T> T supply(String requestId, Supplier<T> logging) {
        return supply(requestId, null, logging);
    }

    /** Returns what {@code logging} returns, computed with the request's id and trace in this thread's MDC. */
    public static <T> T supply(InferenceRequest request, Supplier<T> logging) {
        return supply(request.id(), request.trace(), logging);
    }

    /**
     * Returns what {@code logging} returns, computed with {@code requestId} and {@code trace}
     * (null: none, and the trace keys are left as they are) in this thread's MDC.
     */
    public static <T> T supply(String requestId, TraceContext trace, Supplier<T> logging) {
        String previous = MDC.get(KEY);
        String previousTrace = trace == null ? null : MDC.get(TRACE_ID);
        String previousSpan = trace == null ? null : MDC.get(SPAN_ID);
        String previousParent = trace == null ? null : MDC.get(PARENT_SPAN_ID);
        MDC.put(KEY, clean(requestId));
        if (trace != null) {
            MDC.put(TRACE_ID, trace.traceId());
            MDC.put(SPAN_ID, trace.spanIdHex());
            restore(PARENT_SPAN_ID, trace.parentSpanIdHex());
        }
        try {
            return logging.get();
        } finally {
            restore(KEY, previous);
            if (trace != null) {
                restore(TRACE_ID, previousTrace);
                restore(SPAN_ID, previousSpan);
                restore(PARENT_SPAN_ID, previousParent);
            }
        }
    }

    private static void restore(String key, String value) {
        if (value == null) {
            MDC.remove(key);
        } else {
            MDC.put(key, value);
        }
    }

    static String clean(String id) {
        if (id == null) {
            return "-";
        }
        String cut = id.length() > MAX_LENGTH ? id.substring(0, MAX_LENGTH) : id;
        StringBuilder b = new StringBuilder(cut.length());
        for (int i = 0; i < cut.length(); i++) {
            char c = cut.charAt(i);
            b.append(Character.isISOControl(c) ? '?' : c);
        }
        return b.toString();
    }
}
