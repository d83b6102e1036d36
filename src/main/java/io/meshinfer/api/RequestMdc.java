package io.meshinfer.api;

import java.util.function.Supplier;
import org.slf4j.MDC;

/**
 * The id of the request a log line is about, in SLF4J's MDC under {@value #KEY}: the text log
 * format shows it as {@code request=<id>}, the JSON format under {@code mdc.requestId}. Request
 * handling runs on many threads (HTTP, router callbacks, model runs), so each log call about a
 * request runs inside {@link #run} or {@link #supply}, which put the id in the calling thread's
 * MDC and afterwards restore what was there (callbacks may nest). The id comes from the
 * caller: it is cut to {@value #MAX_LENGTH} characters and control characters are replaced,
 * so it cannot forge log lines.
 */
public final class RequestMdc {
    public static final String KEY = "requestId";
    static final int MAX_LENGTH = 128;

    private RequestMdc() {
    }

    /** Runs {@code logging} with {@code requestId} in this thread's MDC. */
    public static void run(String requestId, Runnable logging) {
        supply(requestId, () -> {
            logging.run();
            return null;
        });
    }

    /** Returns what {@code logging} returns, computed with {@code requestId} in this thread's MDC. */
    public static <T> T supply(String requestId, Supplier<T> logging) {
        String previous = MDC.get(KEY);
        MDC.put(KEY, clean(requestId));
        try {
            return logging.get();
        } finally {
            if (previous == null) {
                MDC.remove(KEY);
            } else {
                MDC.put(KEY, previous);
            }
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
