package io.meshinfer.gateway;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.api.InferenceException;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.api.Principal;
import io.meshinfer.cli.Main;
import io.meshinfer.security.AuditLog;
import io.meshinfer.security.AuditVerifier;
import io.meshinfer.security.TokenIssuer;
import io.meshinfer.security.TokenKeys;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import java.io.IOException;
import java.io.UncheckedIOException;
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
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real node with authentication and auditing on, over HTTP: the bearer token matrix
 * (missing, malformed, expired, not yet valid, forged, wrong model, wrong region, valid),
 * role {@code admin} for deploys, undeploys and rollouts, open health and artifact routes,
 * the trusted in-process client, the replica's own check of the principal, and the audit
 * records all of it leaves behind.
 */
class AuthGatewayTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final String MLP_BODY = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,4],\"datatype\":\"FP32\","
            + "\"data\":[1,2,3,4]}]}";
    @TempDir
    static Path tmp;
    private static Path auditDir;
    private static TestNode node;
    private static TokenIssuer issuer;
    private static String admin;
    private static String reader;

    /** Status, body and the WWW-Authenticate header of one exchange. */
    record Reply(int status, String body, String challenge) {
        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        String error() {
            return json().path("error").asText();
        }
    }

    @BeforeAll
    static void start() throws IOException {
        Path keys = tmp.resolve("keys");
        auditDir = tmp.resolve("audit");
        KeyPair pair = TokenKeys.generate();
        TokenKeys.writePair(pair, keys);
        issuer = new TokenIssuer((ECPrivateKey) pair.getPrivate(), (ECPublicKey) pair.getPublic());
        admin = token("ops", Set.of("admin"), Set.of("*"), Set.of("*"));
        reader = token("reader", Set.of(), Set.of("mlp"), Set.of("eu-west"));
        node = TestNode.start(Map.of(
                "meshinfer.node.region", "eu-west",
                "meshinfer.security.auth-public-key", keys.resolve(TokenKeys.VERIFY_FILE).toString(),
                "meshinfer.security.metrics-need-token", "true",
                "meshinfer.audit.dir", auditDir.toString()));
        Reply deployed = send("PUT", "/v1/models/mlp/versions/1", TestModels.mlp(), admin);
        assertEquals(201, deployed.status(), deployed.body());
        await().atMost(Duration.ofSeconds(30)).until(() ->
                send("GET", "/v2/models/mlp/ready", null, admin).status() == 200);
    }

    @AfterAll
    static void stop() {
        node.close();
    }

    private static String token(String subject, Set<String> roles, Set<String> models, Set<String> regions) {
        return issuer.issue(new Principal(subject, roles, models, regions, null), Duration.ofHours(1));
    }

    private static Reply send(String method, String path, byte[] body, String token) {
        return sendRaw(method, path, body, token == null ? null : "Bearer " + token);
    }

    private static Reply sendRaw(String method, String path, byte[] body, String authorization) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(node.url() + path)).timeout(Duration.ofSeconds(60))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofByteArray(body));
        if (body != null) {
            b.header("Content-Type", path.endsWith("/infer") || path.contains("/rollout")
                    ? "application/json" : "application/octet-stream");
        }
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        try {
            HttpResponse<String> r = CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            return new Reply(r.statusCode(), r.body(), r.headers().firstValue("WWW-Authenticate").orElse(null));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static Reply infer(String token) {
        return send("POST", "/v2/models/mlp/infer", MLP_BODY.getBytes(StandardCharsets.UTF_8), token);
    }

    private static void assertUnauthorized(Reply r, String error) {
        assertEquals(401, r.status(), r.body());
        assertTrue(r.error().contains(error), r.error());
        assertTrue(r.challenge() != null && r.challenge().startsWith("Bearer"), "WWW-Authenticate: " + r.challenge());
    }

    @Test
    void healthIsOpenToProbes() {
        assertEquals(200, send("GET", "/v2/health/live", null, null).status());
        assertEquals(200, send("GET", "/v2/health/ready", null, null).status());
    }

    @Test
    void metricsNeedAnyValidTokenWhenConfiguredTo() {
        assertUnauthorized(send("GET", "/metrics", null, null), "missing bearer token");
        assertUnauthorized(sendRaw("GET", "/metrics", null, "Bearer not-a-jwt"), "");
        // a scraper's token needs no role and no model
        String scraper = token("prometheus", Set.of(), Set.of(), Set.of());
        Reply scraped = send("GET", "/metrics", null, scraper);
        assertEquals(200, scraped.status(), scraped.body());
        assertTrue(scraped.body().contains("meshinfer_cluster_members{"), scraped.body());
    }

    @Test
    void theDashboardPageIsOpenButItsStatsNeedAToken() throws IOException {
        assertEquals(200, send("GET", "/ui", null, null).status(), "the page holds no data");
        assertEquals(200, send("GET", "/ui/dashboard.js", null, null).status());
        assertUnauthorized(send("GET", "/v1/ui/stats", null, null), "missing bearer token");
        assertUnauthorized(sendRaw("GET", "/v1/ui/stats", null, "Bearer not-a-jwt"), "");
        Reply stats = send("GET", "/v1/ui/stats", null, reader);
        assertEquals(200, stats.status(), stats.body());
        assertTrue(JSON.readTree(stats.body()).has("versions"), stats.body());
    }

    @Test
    void inferenceNeedsAValidTokenForTheModelAndRegion() {
        Reply none = infer(null);
        assertUnauthorized(none, "missing bearer token");
        assertEquals("Bearer realm=\"meshinfer\"", none.challenge());

        Reply notBearer = sendRaw("POST", "/v2/models/mlp/infer", MLP_BODY.getBytes(StandardCharsets.UTF_8),
                "Basic b3BzOnNlY3JldA==");
        assertUnauthorized(notBearer, "bearer token");

        Reply malformed = infer("abc.def");
        assertUnauthorized(malformed, "malformed bearer token");
        assertTrue(malformed.challenge().contains("error=invalid_token"), malformed.challenge());

        Instant longAgo = Instant.now().minus(Duration.ofHours(3));
        Principal p = new Principal("reader", Set.of(), Set.of("mlp"), Set.of("eu-west"), null);
        assertUnauthorized(infer(issuer.issue(p, longAgo, longAgo, Duration.ofHours(1))), "token expired at");

        Instant later = Instant.now().plus(Duration.ofHours(1));
        assertUnauthorized(infer(issuer.issue(p, Instant.now(), later, Duration.ofHours(2))), "not valid before");

        KeyPair other = TokenKeys.generate();
        String forged = new TokenIssuer((ECPrivateKey) other.getPrivate(), (ECPublicKey) other.getPublic())
                .issue(new Principal("ops", Set.of("admin"), Set.of("*"), Set.of("*"), null), Duration.ofHours(1));
        assertUnauthorized(infer(forged), "signature is not valid");

        Reply wrongModel = infer(token("cnn-only", Set.of(), Set.of("cnn"), Set.of("*")));
        assertEquals(403, wrongModel.status(), wrongModel.body());
        assertTrue(wrongModel.error().contains("does not allow model 'mlp'"), wrongModel.error());
        assertNull(wrongModel.challenge());

        Reply wrongRegion = infer(token("us-only", Set.of(), Set.of("mlp"), Set.of("us-east")));
        assertEquals(403, wrongRegion.status(), wrongRegion.body());
        assertTrue(wrongRegion.error().contains("[us-east]"), wrongRegion.error());

        Reply outsideResidency = send("POST", "/v2/models/mlp/infer", ("{\"parameters\":{\"residency\":[\"us-east\"]},"
                + MLP_BODY.substring(1)).getBytes(StandardCharsets.UTF_8), reader);
        assertEquals(403, outsideResidency.status(), outsideResidency.body());
        assertTrue(outsideResidency.error().contains("allows regions [eu-west]"), outsideResidency.error());

        Reply ok = infer(reader);
        assertEquals(200, ok.status(), ok.body());
        assertEquals("test-node", ok.json().at("/parameters/node").asText());
        assertEquals(200, send("GET", "/v2/models/mlp", null, reader).status(), "metadata with a token");
        assertEquals(403, send("GET", "/v2/models/mlp", null, token("x", Set.of(), Set.of("cnn"), Set.of("*")))
                .status(), "metadata of a model the token does not allow");
        assertEquals(401, send("GET", "/v2/models/mlp", null, null).status());
    }

    @Test
    void adminActionsNeedTheAdminRole() throws IOException {
        Reply byReader = send("PUT", "/v1/models/mlp/versions/2", TestModels.mlp(), reader);
        assertEquals(403, byReader.status(), byReader.body());
        assertTrue(byReader.error().contains("lacks the role 'admin'"), byReader.error());
        assertUnauthorized(send("PUT", "/v1/models/mlp/versions/2", TestModels.mlp(), null), "missing bearer token");
        String scopedAdmin = token("team-a", Set.of("admin"), Set.of("team-a-*", "a-model"), Set.of("*"));
        assertEquals(403, send("PUT", "/v1/models/mlp/versions/2", TestModels.mlp(), scopedAdmin).status(),
                "an admin token scoped to other models");

        Reply deployed = send("PUT", "/v1/models/mlp/versions/2", TestModels.mlp(), admin);
        assertEquals(201, deployed.status(), deployed.body());
        assertEquals("ops", deployed.json().get("deployedBy").asText());

        byte[] spec = "{\"to\":\"2\",\"strategy\":\"canary\",\"steps\":[50,100],\"stepSeconds\":600}"
                .getBytes(StandardCharsets.UTF_8);
        assertEquals(403, send("POST", "/v1/models/mlp/rollout", spec, reader).status());
        Reply started = send("POST", "/v1/models/mlp/rollout", spec, admin);
        assertEquals(202, started.status(), started.body());
        assertEquals("ops", started.json().get("startedBy").asText());
        assertEquals(403, send("POST", "/v1/models/mlp/rollout/abort", null, reader).status());
        assertEquals(200, send("GET", "/v1/models/mlp/rollout", null, reader).status(), "status needs a token only");
        assertEquals(401, send("GET", "/v1/models/mlp/rollout", null, null).status());
        Reply aborted = send("POST", "/v1/models/mlp/rollout/abort", null, admin);
        assertEquals(200, aborted.status(), aborted.body());

        assertEquals(401, send("GET", "/v1/cluster", null, null).status());
        assertEquals(200, send("GET", "/v1/cluster", null, reader).status());
        assertEquals(401, send("GET", "/v1/models", null, null).status());
        Reply models = send("GET", "/v1/models", null, reader);
        assertEquals(200, models.status());

        assertEquals(403, send("DELETE", "/v1/models/mlp/versions/2", null, reader).status());
        Reply undeployed = send("DELETE", "/v1/models/mlp/versions/2", null, admin);
        assertEquals(200, undeployed.status(), undeployed.body());

        // peers fetch artifacts without a token: content-addressed, and checked against the sha256 on arrival
        String sha = models.json().at("/models/0/sha256").asText();
        Reply artifact = send("GET", "/v1/artifacts/" + sha, null, null);
        assertEquals(200, artifact.status());

        List<JsonNode> records = awaitRecords(r -> r.path("action").asText().equals("undeploy"));
        JsonNode deploy = find(records, r -> r.path("action").asText().equals("deploy")
                && r.path("version").asText().equals("2") && r.path("outcome").asText().equals("ok"));
        assertEquals("ops", deploy.path("principal").asText());
        assertEquals("mlp", deploy.path("model").asText());
        assertEquals("2", deploy.path("version").asText());
        assertEquals("test-node", deploy.path("node").asText());
        assertEquals("eu-west", deploy.path("region").asText());
        JsonNode denied = find(records, r -> r.path("action").asText().equals("deploy")
                && r.path("principal").asText().equals("reader"));
        assertEquals("permission_denied", denied.path("outcome").asText());
        JsonNode start = find(records, r -> r.path("action").asText().equals("rollout.start")
                && r.path("outcome").asText().equals("ok"));
        assertEquals("2", start.path("version").asText(), "the rollout's target version");
        find(records, r -> r.path("action").asText().equals("rollout.abort") && r.path("principal").asText()
                .equals("ops"));
    }

    @Test
    void everyInferenceLeavesOneChainedRecordWithoutItsPayload() throws Exception {
        Reply ok = send("POST", "/v2/models/mlp/infer", ("{\"id\":\"audited-1\",\"inputs\":[{\"name\":\"x\","
                + "\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]}").getBytes(StandardCharsets.UTF_8), reader);
        assertEquals(200, ok.status(), ok.body());
        infer(token("cnn-only", Set.of(), Set.of("cnn"), Set.of("*")));
        infer(null);

        InferenceResponse inProcess = node.node().client().infer(InferenceRequest.builder("mlp").id("in-process-1")
                .input("x", Tensor.ofFloats(new long[] {1, 4}, 1, 2, 3, 4)).build()).toCompletableFuture()
                .get(20, TimeUnit.SECONDS);
        assertEquals("test-node", inProcess.node(), "the in-process client needs no token");

        List<JsonNode> records = awaitRecords(r -> r.path("id").asText().equals("in-process-1"));
        JsonNode served = find(records, r -> r.path("id").asText().equals("audited-1"));
        assertEquals(1, records.stream().filter(r -> r.path("id").asText().equals("audited-1")).count());
        assertEquals("reader", served.path("principal").asText());
        assertEquals("infer", served.path("action").asText());
        assertEquals("mlp", served.path("model").asText());
        assertEquals("1", served.path("version").asText());
        assertEquals("test-node", served.path("node").asText());
        assertEquals("eu-west", served.path("region").asText());
        assertEquals("[\"eu-west\"]", served.path("residency").toString(), "the token's regions as residency");
        assertEquals("ok", served.path("outcome").asText());
        assertEquals("http", served.path("via").asText());
        assertTrue(served.path("latency_ms").asDouble() > 0);
        assertTrue(records.stream().noneMatch(r -> r.toString().contains("\"data\"")
                || r.toString().contains("[1,2,3,4]")), "no payload in the audit log");

        JsonNode wrongModel = find(records, r -> r.path("principal").asText().equals("cnn-only"));
        assertEquals("permission_denied", wrongModel.path("outcome").asText());
        find(records, r -> r.path("action").asText().equals("authenticate")
                && r.path("outcome").asText().equals("unauthenticated")
                && r.path("detail").asText().startsWith("missing: POST /v2/models/mlp/infer"));
        JsonNode java = find(records, r -> r.path("id").asText().equals("in-process-1"));
        assertEquals("java", java.path("via").asText());
        assertTrue(java.path("principal").isNull());

        AuditVerifier.Result chain = AuditVerifier.verify(AuditLog.files(auditDir));
        assertTrue(chain.intact(), String.valueOf(chain.problem()));
    }

    @Test
    void theReplicaChecksThePrincipalAgain() {
        // straight to the node's router, past the entry point that narrows residency: the replica refuses
        InferenceRequest usOnly = InferenceRequest.builder("mlp").input("x", Tensor.ofFloats(new long[] {1, 4},
                        1, 2, 3, 4)).principal(new Principal("us-only", Set.of(), Set.of("mlp"), Set.of("us-east"), null))
                .build();
        CompletionException e = org.junit.jupiter.api.Assertions.assertThrows(CompletionException.class,
                () -> node.node().infer(usOnly).toCompletableFuture().join());
        InferenceException ie = assertInstanceOf(InferenceException.ResidencyViolation.class, e.getCause());
        assertTrue(ie.getMessage().contains("regions its token allows [us-east]"), ie.getMessage());

        InferenceRequest cnnOnly = InferenceRequest.builder("mlp").input("x", Tensor.ofFloats(new long[] {1, 4},
                        1, 2, 3, 4)).principal(new Principal("cnn-only", Set.of(), Set.of("cnn"), Set.of("*"), null))
                .build();
        e = org.junit.jupiter.api.Assertions.assertThrows(CompletionException.class,
                () -> node.node().infer(cnnOnly).toCompletableFuture().join());
        assertInstanceOf(InferenceException.PermissionDenied.class, e.getCause());
    }

    @Test
    void theCliSendsTheTokenFromItsEnvironment() {
        assertEquals(1, Main.run("status", "--gateway", node.url()), "no token");
        System.setProperty("meshinfer.token", reader);
        try {
            assertEquals(0, Main.run("status", "--gateway", node.url()));
        } finally {
            System.clearProperty("meshinfer.token");
        }
    }

    /** The records of the audit log once one matches {@code until}. */
    private static List<JsonNode> awaitRecords(Predicate<JsonNode> until) {
        List<JsonNode> records = new ArrayList<>();
        await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() -> {
            records.clear(); // a line being written may be incomplete: read again
            for (Path f : AuditLog.files(auditDir)) {
                for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                    records.add(JSON.readTree(line));
                }
            }
            return records.stream().anyMatch(until);
        });
        return records;
    }

    private static JsonNode find(List<JsonNode> records, Predicate<JsonNode> p) {
        return records.stream().filter(p).findFirst().orElseThrow(() -> new AssertionError("no such audit record in "
                + records));
    }
}
