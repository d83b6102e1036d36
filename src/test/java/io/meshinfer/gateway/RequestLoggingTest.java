package io.meshinfer.gateway;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import io.meshinfer.api.RequestMdc;
import io.meshinfer.node.LogFormat;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The request id on the log lines about a request, and the two line formats of the node's
 * own {@code logback.xml} (text and JSON) rendering it: a real node logs a failed request,
 * and the encoders that file configures write that very event.
 */
class RequestLoggingTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final URL NODE_LOGBACK = RequestLoggingTest.class.getClassLoader().getResource("logback.xml");

    /** The encoder of the appender {@code format} in a fresh context configured from the node's logback.xml. */
    private static byte[] encode(String format, ILoggingEvent event) {
        LoggerContext context = new LoggerContext();
        LogFormat.configure(context, NODE_LOGBACK, format);
        Appender<ILoggingEvent> appender = context.getLogger(Logger.ROOT_LOGGER_NAME).getAppender(format);
        assertNotNull(appender, "logback.xml starts the appender named " + format);
        assertEquals(List.of(appender), iterate(context.getLogger(Logger.ROOT_LOGGER_NAME)), "only that one");
        byte[] line = ((OutputStreamAppender<ILoggingEvent>) appender).getEncoder().encode(event);
        context.stop();
        return line;
    }

    private static List<Appender<ILoggingEvent>> iterate(Logger logger) {
        List<Appender<ILoggingEvent>> all = new java.util.ArrayList<>();
        logger.iteratorForAppenders().forEachRemaining(all::add);
        return all;
    }

    @Test
    void aFailedRequestIsLoggedWithItsIdInBothFormats() throws Exception {
        Logger gatewayLog = (Logger) LoggerFactory.getLogger(HttpGateway.class);
        ListAppender<ILoggingEvent> captured = new ListAppender<>();
        captured.start();
        gatewayLog.addAppender(captured);
        try (TestNode node = TestNode.start()) {
            assertEquals(201, Http.put(node.url() + "/v1/models/tokens/versions/1", TestModels.int64Embedding())
                    .status());
            await().atMost(Duration.ofSeconds(30)).until(() ->
                    Http.get(node.url() + "/v2/models/tokens/ready").status() == 200);

            // token 999 is out of the embedding table: the model fails on this input (500)
            Http.Reply r = Http.post(node.url() + "/v2/models/tokens/infer", "{\"id\":\"req-42\\nINFO forged\","
                    + "\"inputs\":[{\"name\":\"tokens\",\"shape\":[1,6],\"datatype\":\"INT64\","
                    + "\"data\":[1,2,3,4,5,999]}]}");
            assertEquals(500, r.status(), r.body());
        } finally {
            gatewayLog.detachAppender(captured);
        }
        ILoggingEvent event = captured.list.stream()
                .filter(e -> e.getLevel() == Level.WARN && e.getFormattedMessage().contains("model tokens failed"))
                .findFirst().orElseThrow(() -> new AssertionError("no warning about the request in " + captured.list));
        assertEquals("req-42?INFO forged", event.getMDCPropertyMap().get(RequestMdc.KEY));
        assertFalse(event.getFormattedMessage().contains("999"), "no input value in the log: "
                + event.getFormattedMessage());

        JsonNode json = JSON.readTree(encode("json", event));
        assertEquals("WARN", json.path("level").asText());
        assertEquals(HttpGateway.class.getName(), json.path("loggerName").asText());
        assertEquals("req-42?INFO forged", json.path("mdc").path(RequestMdc.KEY).asText(), json.toString());
        assertTrue(json.path("formattedMessage").asText().startsWith("inference on model tokens failed"), json.toString());
        assertFalse(json.has("arguments") || json.has("message"), "the message once, formatted: " + json);
        assertTrue(json.has("timestamp") && json.has("threadName"), json.toString());

        String text = new String(encode("text", event), StandardCharsets.UTF_8);
        String trace = event.getMDCPropertyMap().get(RequestMdc.TRACE_ID);
        String span = event.getMDCPropertyMap().get(RequestMdc.SPAN_ID);
        assertTrue(trace != null && trace.length() == 32 && span != null && span.length() == 16,
                "the trace of the request: " + event.getMDCPropertyMap());
        assertEquals(trace, json.path("mdc").path(RequestMdc.TRACE_ID).asText(), json.toString());
        assertTrue(text.contains(" request=req-42?INFO forged trace=" + trace + " span=" + span
                + " inference on model tokens failed"), text);
        assertEquals(text.length() - 1, text.indexOf('\n'), "one line: " + text);
    }

    @Test
    void aLineAboutNoRequestHasNoRequestField() throws Exception {
        LoggerContext context = new LoggerContext();
        LoggingEvent event = new LoggingEvent(getClass().getName(), context.getLogger("io.meshinfer.node.MeshNode"),
                Level.INFO, "node {} is leaving", null, new Object[] {"n1"});
        event.setMDCPropertyMap(Map.of("pekkoSource", "x"));
        String text = new String(encode("text", event), StandardCharsets.UTF_8);
        assertTrue(text.endsWith(" [x] node n1 is leaving\n"), text);
        assertFalse(text.contains("request=") || text.contains("trace=") || text.contains("span="), text);
        JsonNode json = JSON.readTree(encode("json", event));
        assertEquals("node n1 is leaving", json.path("formattedMessage").asText());
        assertFalse(json.path("mdc").has(RequestMdc.KEY), json.toString());
    }

    @Test
    void anUnknownFormatIsRefusedAndAForeignConfigurationIsLeftAlone() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () ->
                LogFormat.apply(ConfigFactory.parseMap(Map.of("meshinfer.logging.format", "xml"))));
        assertTrue(e.getMessage().contains("must be 'text' or 'json', not 'xml'"), e.getMessage());

        // the tests' own logback-test.xml is not meshinfer's node configuration: json leaves it as it is
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        Appender<ILoggingEvent> before = context.getLogger(Logger.ROOT_LOGGER_NAME).getAppender("STDOUT");
        LogFormat.apply(ConfigFactory.parseMap(Map.of("meshinfer.logging.format", "json")));
        assertSame(before, context.getLogger(Logger.ROOT_LOGGER_NAME).getAppender("STDOUT"));
    }
}
