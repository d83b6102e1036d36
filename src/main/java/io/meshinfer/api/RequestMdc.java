package io.meshinfer.api;

import org.slf4j.MDC;

/**
 * The id of the request a log line is about, in SLF4J's MDC under {@value #KEY}: the text log
 * format shows it as {@code request=<id>}, the JSON format under {@code mdc.requestId}. Request
 * handling runs on many threads (HTTP, router callbacks, model runs), so each log call about a
 * request opens a scope around itself; closing it restores what the thread had before.
 * The id comes from the caller: it is cut to {@value #MAX_LENGTH} characters and control
 * characters are replaced, so it cannot forge log lines.
 */
public final class RequestMdc {
    public static final String KEY = "requestId";
    static final int MAX_LENGTH = 128;

    /** A scope that puts back the MDC entry it replaced. */
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }

    private RequestMdc() {
    }

    /** Puts {@code requestId} in the MDC of this thread until the scope closes. */
    public static Scope open(String requestId) {
        String previous = MDC.get(KEY);
        MDC.put(KEY, clean(requestId));
        return () -> {
            if (previous == null) {
                MDC.remove(KEY);
            } else {
                MDC.put(KEY, previous);
            }
        };
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
