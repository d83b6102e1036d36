package io.meshinfer.multijvm;

/**
 * The terminal outcome of one request sent by a {@link LoadDriver}. Times are milliseconds
 * since the driver started (its {@link LoadDriver#now()} clock).
 *
 * @param seq the request's sequence number, unique within its driver
 * @param gateway name of the node that finally took the request (after fail-overs)
 * @param startMillis when the request was first sent
 * @param endMillis when its outcome was known
 * @param kind what happened
 * @param status HTTP status, or 0 when there was no HTTP answer
 * @param error the answer's {@code error} text (or its raw body when it has none), or the client-side failure
 * @param typedBody whether an HTTP error answer was JSON {@code {"error": "..."}}
 * @param node the serving node named in a successful answer
 * @param region the serving region named in a successful answer
 * @param island whether a successful answer says {@code served_in_island_mode}
 * @param failovers gateways that refused the connection before this one took it
 * @param notReadySkips gateways passed over because their readiness probe said not ready
 * @param version the model version named in a successful answer
 */
public record Outcome(long seq, String gateway, double startMillis, double endMillis, Kind kind, int status,
                      String error, boolean typedBody, String node, String region, boolean island, int failovers,
                      int notReadySkips, String version) {

    /** What happened to a request. Only {@link #OK} is a success. */
    public enum Kind {
        /** 200 with a well-formed inference answer. */
        OK,
        /** A non-200 HTTP answer ({@link #typed()} tells whether it was a JSON {@code {"error"}}). */
        HTTP_ERROR,
        /** No complete answer before the client deadline (the request's budget plus a grace). */
        TIMEOUT,
        /** The connection broke after the request was sent, before a complete answer. */
        CONNECTION_LOST,
        /** No gateway accepted the connection. */
        CONNECT_FAILED,
        /** 200, but the body is not a valid inference answer. */
        BAD_RESPONSE,
        /** The driver itself failed to send (a bug in the harness). */
        CLIENT_ERROR
    }

    /** A failure without an HTTP answer. */
    static Outcome failure(long seq, String gateway, double start, double end, Kind kind, String error,
                           int failovers, int notReadySkips) {
        return new Outcome(seq, gateway, start, end, kind, 0, error, false, null, null, false, failovers,
                notReadySkips, null);
    }

    public boolean ok() {
        return kind == Kind.OK;
    }

    /** A typed error: an HTTP answer with a JSON {@code {"error": "..."}} body and a status the API documents. */
    public boolean typed() {
        return kind == Kind.HTTP_ERROR && typedBody
                && (status == 400 || status == 403 || status == 404 || status == 409 || status == 413
                || status == 429 || status == 500 || status == 503 || status == 504);
    }

    /** A short label for counting failures: {@code "ok"}, {@code "HTTP 503"}, {@code "TIMEOUT"}, ... */
    public String label() {
        return switch (kind) {
            case OK -> "ok";
            case HTTP_ERROR -> "HTTP " + status + (typed() ? "" : " (untyped)");
            default -> kind.name();
        };
    }

    public double latencyMillis() {
        return endMillis - startMillis;
    }

    /** Whether the request was in flight at {@code millis}. */
    public boolean inFlightAt(double millis) {
        return startMillis <= millis && endMillis >= millis;
    }

    @Override
    public String toString() {
        return String.format("#%d via %s at +%.0fms: %s%s%s (%.0f ms)", seq, gateway, startMillis, label(),
                ok() ? " by " + node + (island ? " [island]" : "") : "",
                ok() || error == null ? "" : " \"" + abbreviate(error) + "\"", latencyMillis());
    }

    private static String abbreviate(String s) {
        return s.length() <= 160 ? s : s.substring(0, 157) + "...";
    }
}
