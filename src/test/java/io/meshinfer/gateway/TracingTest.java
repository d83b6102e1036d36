package io.meshinfer.gateway;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.api.RequestMdc;
import io.meshinfer.api.TraceContext;
import io.meshinfer.security.AuditLog;
import io.meshinfer.security.AuditVerifier;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * W3C trace context through a real node with auditing on: a caller's {@code traceparent}
 * is continued with the node's own span and comes back on the response (with its
 * {@code tracestate}), a request without one (or with a malformed one) starts a new trace,
 * and the trace is on the audit record and on the log lines about the request. The Java
 * client does the same in process.
 */
class TracingTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final String MODEL = "traced";
    private static final String TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
    private static final String CALLER_SPAN = "00f067aa0ba902b7";
    private static final String TRACEPARENT = "00-" + TRACE + "-" + CALLER_SPAN + "-01";
    private static final String BODY = "{\"id\":\"%s\",\"inputs\":[{\"name\":\"x\",\"shape\":[1,4],"
            + "\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]}";
    @TempDir
    static Path tmp;
    private static Path audit;
    private static TestNode node;

    @BeforeAll
    static void start() {
        audit = tmp.resolve("audit");
        node = TestNode.start(Map.of("meshinfer.node.name", "trace-node", "meshinfer.audit.dir", audit.toString()));
        Http.Reply deployed = Http.put(node.url() + "/v1/models/" + MODEL + "/versions/1", TestModels.mlp());
        assertEquals(201, deployed.status(), deployed.body());
        await().atMost(Duration.ofSeconds(30)).until(() ->
                Http.get(node.url() + "/v2/models/" + MODEL + "/ready").status() == 200);
    }

    @AfterAll
    static void stop() {
        if (node != null) {
            node.close();
        }
    }

    private static HttpResponse<String> infer(String path, String body, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(node.url() + path)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    private static TraceContext traceOf(HttpResponse<?> r) {
        List<String> values = r.headers().allValues("traceparent");
        assertEquals(1, values.size(), "one traceparent on the response: " + r.headers().map());
        TraceContext t = TraceContext.parse(values.get(0));
        assertNotNull(t, "a valid traceparent: " + values.get(0));
        return t;
    }

    private static JsonNode awaitRecord(Predicate<JsonNode> which) {
        List<JsonNode> found = new ArrayList<>();
        await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() -> {
            found.clear(); // a line being written may be incomplete: read again
            for (Path f : AuditLog.files(audit)) {
                for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                    JsonNode n = JSON.readTree(line);
                    if (which.test(n)) {
                        found.add(n);
                    }
                }
            }
            return !found.isEmpty();
        });
        return found.get(0);
    }

    /** Runs {@code body} with {@code type}'s logger at debug level, capturing what it logs. */
    private static List<ILoggingEvent> capturingDebug(Class<?> type, ThrowingRunnable body) throws Exception {
        Logger logger = (Logger) LoggerFactory.getLogger(type);
        Level level = logger.getLevel();
        ListAppender<ILoggingEvent> captured = new ListAppender<>();
        captured.start();
        logger.addAppender(captured);
        logger.setLevel(Level.DEBUG);
        try {
            body.run();
        } finally {
            logger.setLevel(level);
            logger.detachAppender(captured);
        }
        return new ArrayList<>(captured.list);
    }

    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    private static ILoggingEvent find(List<ILoggingEvent> events, String text) {
        return events.stream().filter(e -> e.getFormattedMessage().contains(text)).findFirst()
                .orElseThrow(() -> new AssertionError("no line with '" + text + "' in " + events));
    }

    @Test
    void aCallersTraceContinuesWithThisNodesSpanAndComesBackWithItsTracestate() throws Exception {
        HttpResponse<String> r = infer("/v2/models/" + MODEL + "/infer", String.format(BODY, "trace-1"),
                "traceparent", TRACEPARENT, "tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("trace-1", JSON.readTree(r.body()).path("id").asText(), "the OIP id stays");
        TraceContext back = traceOf(r);
        assertEquals(TRACE, back.traceId(), "the same trace");
        assertNotEquals(CALLER_SPAN, back.spanIdHex(), "the node's own span");
        assertTrue(back.sampled());
        assertEquals(Optional.of("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"), r.headers().firstValue("tracestate"));

        JsonNode record = awaitRecord(n -> n.path("id").asText().equals("trace-1"));
        assertEquals("infer", record.path("action").asText());
        assertEquals(TRACE, record.path("trace_id").asText());
        assertEquals(back.spanIdHex(), record.path("span_id").asText());
        assertEquals(CALLER_SPAN, record.path("parent_span_id").asText());
        AuditVerifier.Result verified = AuditVerifier.verify(AuditLog.files(audit));
        assertTrue(verified.intact(), String.valueOf(verified.problem()));
    }

    @Test
    void withoutATraceparentANewTraceStartsAndNoTracestateIsEchoed() throws Exception {
        HttpResponse<String> first = infer("/v2/models/" + MODEL + "/infer", String.format(BODY, "fresh-1"));
        HttpResponse<String> second = infer("/v2/models/" + MODEL + "/infer", String.format(BODY, "fresh-2"),
                "tracestate", "congo=t61rcWkgMzE");
        assertEquals(200, first.statusCode(), first.body());
        assertEquals(200, second.statusCode(), second.body());
        TraceContext a = traceOf(first);
        TraceContext b = traceOf(second);
        assertNotEquals(a.traceId(), b.traceId(), "each request its own trace");
        assertTrue(first.headers().firstValue("tracestate").isEmpty());
        assertTrue(second.headers().firstValue("tracestate").isEmpty(), "a tracestate without a traceparent is dropped");
        assertEquals(a.traceId(), awaitRecord(n -> n.path("id").asText().equals("fresh-1")).path("trace_id").asText());
        JsonNode rec = awaitRecord(n -> n.path("id").asText().equals("fresh-1"));
        assertTrue(rec.path("parent_span_id").isNull(), "the trace started here: " + rec);
    }

    @Test
    void aMalformedTraceparentStartsANewTraceAndIsLoggedAtDebug() throws Exception {
        String upper = "00-" + TRACE.toUpperCase() + "-" + CALLER_SPAN + "-01";
        List<HttpResponse<String>> replies = new ArrayList<>();
        List<ILoggingEvent> events = capturingDebug(HttpGateway.class, () -> replies.add(infer(
                "/v2/models/" + MODEL + "/infer", String.format(BODY, "bad-parent"), "traceparent", upper,
                "tracestate", "congo=t61rcWkgMzE")));
        HttpResponse<String> r = replies.get(0);
        assertEquals(200, r.statusCode(), "a malformed traceparent never fails a request: " + r.body());
        TraceContext back = traceOf(r);
        assertNotEquals(TRACE, back.traceId());
        assertEquals(0, back.parentSpanId());
        assertTrue(r.headers().firstValue("tracestate").isEmpty());
        ILoggingEvent line = find(events, "ignored a malformed traceparent");
        assertEquals(Level.DEBUG, line.getLevel());
        assertEquals("bad-parent", line.getMDCPropertyMap().get(RequestMdc.KEY));
        assertEquals(back.traceId(), line.getMDCPropertyMap().get(RequestMdc.TRACE_ID));
        assertEquals(back.spanIdHex(), line.getMDCPropertyMap().get(RequestMdc.SPAN_ID));
    }

    @Test
    void errorAnswersCarryTheTraceAndSoDoTheirLogLines() throws Exception {
        List<HttpResponse<String>> replies = new ArrayList<>();
        List<ILoggingEvent> events = capturingDebug(HttpGateway.class, () -> {
            replies.add(infer("/v2/models/" + MODEL + "/versions/9/infer", String.format(BODY, "no-such-version"),
                    "traceparent", TRACEPARENT));
            replies.add(infer("/v2/models/" + MODEL + "/infer", "{not json", "traceparent", TRACEPARENT));
        });
        HttpResponse<String> notFound = replies.get(0);
        assertEquals(404, notFound.statusCode(), notFound.body());
        TraceContext back = traceOf(notFound);
        assertEquals(TRACE, back.traceId());
        ILoggingEvent line = find(events, "answered MODEL_NOT_FOUND");
        Map<String, String> mdc = line.getMDCPropertyMap();
        assertEquals("no-such-version", mdc.get(RequestMdc.KEY));
        assertEquals(TRACE, mdc.get(RequestMdc.TRACE_ID));
        assertEquals(back.spanIdHex(), mdc.get(RequestMdc.SPAN_ID));
        assertEquals(CALLER_SPAN, mdc.get(RequestMdc.PARENT_SPAN_ID));

        HttpResponse<String> malformed = replies.get(1);
        assertEquals(400, malformed.statusCode(), malformed.body());
        assertEquals(TRACE, traceOf(malformed).traceId(), "even a request that cannot be read");
    }

    @Test
    void anOversizedOrMalformedTracestateIsDropped() throws Exception {
        String big = "a=" + "x".repeat(256) + ",b=" + "y".repeat(252);
        HttpResponse<String> tooLong = infer("/v2/models/" + MODEL + "/infer", String.format(BODY, "big-state"),
                "traceparent", TRACEPARENT, "tracestate", big);
        HttpResponse<String> bad = infer("/v2/models/" + MODEL + "/infer", String.format(BODY, "bad-state"),
                "traceparent", TRACEPARENT, "tracestate", "Not A List Member");
        assertEquals(200, tooLong.statusCode(), tooLong.body());
        assertEquals(200, bad.statusCode(), bad.body());
        assertTrue(tooLong.headers().firstValue("tracestate").isEmpty());
        assertTrue(bad.headers().firstValue("tracestate").isEmpty());
        assertEquals(TRACE, traceOf(tooLong).traceId(), "the traceparent is still honoured");
    }

    @Test
    void theJavaClientContinuesATraceAndSeesItInTheAnswer() throws Exception {
        InferenceResponse r = node.node().client().infer(InferenceRequest.builder(MODEL).id("java-1")
                        .input("x", Tensor.ofFloats(new long[] {1, 4}, 1, 2, 3, 4))
                        .traceparent(TRACEPARENT).build())
                .toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertEquals(TRACE, r.traceId());
        JsonNode record = awaitRecord(n -> n.path("id").asText().equals("java-1"));
        assertEquals("java", record.path("via").asText());
        assertEquals(TRACE, record.path("trace_id").asText());
        assertEquals(CALLER_SPAN, record.path("parent_span_id").asText());
        assertEquals(r.trace().spanIdHex(), record.path("span_id").asText(), "served on this node, in its span");

        InferenceResponse fresh = node.node().client().infer(InferenceRequest.builder(MODEL)
                        .input("x", Tensor.ofFloats(new long[] {1, 4}, 1, 2, 3, 4)).build())
                .toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertNotNull(fresh.traceId());
        assertNotEquals(TRACE, fresh.traceId());
    }
}
