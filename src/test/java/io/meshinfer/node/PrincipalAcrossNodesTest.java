package io.meshinfer.node;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.meshinfer.api.Principal;
import io.meshinfer.api.RequestMdc;
import io.meshinfer.api.TraceContext;
import io.meshinfer.shard.ModelReplica;
import io.meshinfer.security.AuditLog;
import io.meshinfer.security.AuditVerifier;
import io.meshinfer.security.TokenIssuer;
import io.meshinfer.security.TokenKeys;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.ECPublicKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two real nodes in one JVM (regions "a" and "b"), both with authentication and auditing
 * on: a request entering at node-a with a bearer token is served by the only replica, on
 * node-b, and the principal crosses the cluster with it (Kryo, as between processes): the
 * serving node's audit log names it. A token scoped to region a cannot be served in b. The
 * artifact travels from a to b without a token. A W3C trace crosses with the request too:
 * node-b serves it in a span of its own, child of node-a's, in its audit record and logs.
 */
class PrincipalAcrossNodesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final String BODY = "{\"id\":\"%s\",\"inputs\":[{\"name\":\"x\",\"shape\":[1,4],"
            + "\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]}";
    @TempDir
    static Path tmp;
    private static TestNode a;
    private static TestNode b;
    private static Path auditA;
    private static Path auditB;
    private static TokenIssuer issuer;

    @BeforeAll
    static void start() throws IOException {
        Path keys = tmp.resolve("keys");
        KeyPair pair = TokenKeys.generate();
        TokenKeys.writePair(pair, keys);
        issuer = new TokenIssuer((ECPrivateKey) pair.getPrivate(), (ECPublicKey) pair.getPublic());
        String verify = keys.resolve(TokenKeys.VERIFY_FILE).toString();
        auditA = tmp.resolve("audit-a");
        auditB = tmp.resolve("audit-b");
        a = TestNode.start(Map.of("meshinfer.node.name", "node-a", "meshinfer.node.region", "a",
                "meshinfer.security.auth-public-key", verify, "meshinfer.audit.dir", auditA.toString()));
        b = TestNode.start(Map.of("meshinfer.node.name", "node-b", "meshinfer.node.region", "b",
                "meshinfer.security.auth-public-key", verify, "meshinfer.audit.dir", auditB.toString(),
                "pekko.cluster.seed-nodes", List.of("pekko://meshinfer@" + a.clusterHostPort())));
    }

    @AfterAll
    static void stop() {
        b.close();
        a.close();
    }

    private static String token(String subject, Set<String> roles, Set<String> regions) {
        return issuer.issue(new Principal(subject, roles, Set.of("*"), regions, null), Duration.ofHours(1));
    }

    private static HttpResponse<String> send(TestNode n, String method, String path, byte[] body, String token)
            throws Exception {
        HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(n.url() + path)).timeout(Duration.ofSeconds(60))
                .header("Authorization", "Bearer " + token)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofByteArray(body));
        return CLIENT.send(req.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    private static List<JsonNode> awaitRecord(Path dir, Predicate<JsonNode> until) {
        List<JsonNode> records = new ArrayList<>();
        await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() -> {
            records.clear(); // a line being written may be incomplete: read again
            for (Path f : AuditLog.files(dir)) {
                for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                    records.add(JSON.readTree(line));
                }
            }
            return records.stream().anyMatch(until);
        });
        return records;
    }

    @Test
    void thePrincipalReachesTheServingReplicaOnAnotherNode() throws Exception {
        String admin = token("ops", Set.of("admin"), Set.of("*"));
        HttpResponse<String> deployed = send(a, "PUT", "/v1/models/in-b/versions/1?regions=b", TestModels.mlp(), admin);
        assertEquals(201, deployed.statusCode(), deployed.body());
        await().atMost(Duration.ofSeconds(60)).until(() ->
                send(a, "GET", "/v2/models/in-b/ready", null, admin).statusCode() == 200);

        String carol = token("carol", Set.of(), Set.of("*"));
        HttpResponse<String> served = send(a, "POST", "/v2/models/in-b/infer",
                String.format(BODY, "across-1").getBytes(StandardCharsets.UTF_8), carol);
        assertEquals(200, served.statusCode(), served.body());
        assertEquals("node-b", JSON.readTree(served.body()).at("/parameters/node").asText());

        List<JsonNode> atB = awaitRecord(auditB, r -> r.path("id").asText().equals("across-1"));
        JsonNode serve = atB.stream().filter(r -> r.path("id").asText().equals("across-1")).findFirst().orElseThrow();
        assertEquals("serve", serve.path("action").asText());
        assertEquals("carol", serve.path("principal").asText(), "the principal crossed the cluster");
        assertEquals("node-b", serve.path("node").asText());
        assertEquals("b", serve.path("region").asText());
        assertEquals("cluster", serve.path("via").asText());
        assertEquals("ok", serve.path("outcome").asText());

        List<JsonNode> atA = awaitRecord(auditA, r -> r.path("id").asText().equals("across-1"));
        JsonNode entry = atA.stream().filter(r -> r.path("id").asText().equals("across-1")).findFirst().orElseThrow();
        assertEquals("infer", entry.path("action").asText());
        assertEquals("carol", entry.path("principal").asText());
        assertEquals("node-b", entry.path("node").asText(), "the entry node records where it was served");
        assertEquals("http", entry.path("via").asText());

        // a token for region a only: the one replica runs in b, so no replica may serve it
        HttpResponse<String> regionA = send(a, "POST", "/v2/models/in-b/infer",
                String.format(BODY, "across-2").getBytes(StandardCharsets.UTF_8), token("dave", Set.of(), Set.of("a")));
        assertEquals(403, regionA.statusCode(), regionA.body());
        assertTrue(regionA.body().contains("[a]"), regionA.body());

        // the refusal's record is appended by the audit writer thread: verify once it is whole
        awaitRecord(auditA, r -> r.path("id").asText().equals("across-2"));
        assertTrue(AuditVerifier.verify(AuditLog.files(auditA)).intact());
        assertTrue(AuditVerifier.verify(AuditLog.files(auditB)).intact());
    }

    @Test
    void theTraceReachesTheServingNodeInASpanOfItsOwn() throws Exception {
        String admin = token("ops", Set.of("admin"), Set.of("*"));
        HttpResponse<String> deployed = send(a, "PUT", "/v1/models/traced-b/versions/1?regions=b", TestModels.mlp(),
                admin);
        assertEquals(201, deployed.statusCode(), deployed.body());
        await().atMost(Duration.ofSeconds(60)).until(() ->
                send(a, "GET", "/v2/models/traced-b/ready", null, admin).statusCode() == 200);

        String trace = "0af7651916cd43dd8448eb211c80319c";
        String callerSpan = "b7ad6b7169203331";
        ch.qos.logback.classic.Logger replicaLog =
                (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(ModelReplica.class);
        ch.qos.logback.classic.Level level = replicaLog.getLevel();
        ListAppender<ILoggingEvent> captured = new ListAppender<>();
        captured.start();
        replicaLog.addAppender(captured);
        replicaLog.setLevel(ch.qos.logback.classic.Level.DEBUG);
        HttpResponse<String> served;
        try {
            HttpRequest req = HttpRequest.newBuilder(URI.create(a.url() + "/v2/models/traced-b/infer"))
                    .timeout(Duration.ofSeconds(60)).header("Authorization", "Bearer " + token("erin", Set.of(),
                            Set.of("*")))
                    .header("traceparent", "00-" + trace + "-" + callerSpan + "-01")
                    .POST(HttpRequest.BodyPublishers.ofString(String.format(BODY, "traced-across"))).build();
            served = CLIENT.send(req, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } finally {
            replicaLog.setLevel(level);
            replicaLog.detachAppender(captured);
        }
        assertEquals(200, served.statusCode(), served.body());
        assertEquals("node-b", JSON.readTree(served.body()).at("/parameters/node").asText());
        TraceContext entry = TraceContext.parse(served.headers().firstValue("traceparent").orElseThrow());
        assertEquals(trace, entry.traceId());
        String entrySpan = entry.spanIdHex();
        assertNotEquals(callerSpan, entrySpan);

        // the entry node: its span, the caller's as parent
        JsonNode atA = awaitRecord(auditA, r -> r.path("id").asText().equals("traced-across")).stream()
                .filter(r -> r.path("id").asText().equals("traced-across")).findFirst().orElseThrow();
        assertEquals(trace, atA.path("trace_id").asText());
        assertEquals(entrySpan, atA.path("span_id").asText());
        assertEquals(callerSpan, atA.path("parent_span_id").asText());
        // the serving node, across Artery: the same trace, a span of its own, the entry node's as parent
        JsonNode atB = awaitRecord(auditB, r -> r.path("id").asText().equals("traced-across")).stream()
                .filter(r -> r.path("id").asText().equals("traced-across")).findFirst().orElseThrow();
        assertEquals("serve", atB.path("action").asText());
        assertEquals(trace, atB.path("trace_id").asText());
        assertEquals(entrySpan, atB.path("parent_span_id").asText());
        String servingSpan = atB.path("span_id").asText();
        assertEquals(16, servingSpan.length());
        assertNotEquals(entrySpan, servingSpan);

        // and the serving node's log line about it carries the same trace and spans
        ILoggingEvent line = captured.list.stream()
                .filter(e -> e.getFormattedMessage().contains("serves a request that entered at")
                        && "traced-across".equals(e.getMDCPropertyMap().get(RequestMdc.KEY)))
                .findFirst().orElseThrow(() -> new AssertionError("no serving line in " + captured.list));
        assertEquals(trace, line.getMDCPropertyMap().get(RequestMdc.TRACE_ID));
        assertEquals(servingSpan, line.getMDCPropertyMap().get(RequestMdc.SPAN_ID));
        assertEquals(entrySpan, line.getMDCPropertyMap().get(RequestMdc.PARENT_SPAN_ID));
        assertTrue(AuditVerifier.verify(AuditLog.files(auditB)).intact());
    }
}
