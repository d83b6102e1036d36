package io.meshinfer.gateway;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.client.InferenceClient;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The dashboard on a real two-node cluster in two regions, with a model in a canary
 * rollout and live traffic: its files and content types, {@code GET /v1/ui/stats}, and the
 * page as headless Chromium renders it (DOM and a screenshot in {@code target/}), also on a
 * node that has not joined its cluster yet, and on a node with authentication on: the page
 * asks for a token, and one pasted into it (driven over the DevTools protocol) is kept in
 * the tab's session and brings the data.
 */
class DashboardTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String MODEL = "dash-model";
    private static final Path SCREENSHOT = Path.of("target", "ui-dashboard.png");
    private static TestNode a;
    private static TestNode b;

    @BeforeAll
    static void start() {
        a = TestNode.start(Map.of("meshinfer.node.name", "dash-a", "meshinfer.node.region", "eu-west",
                "meshinfer.node.zone", "eu-west-1", "meshinfer.rollout.tick-interval", "200ms"));
        b = TestNode.start(Map.of("meshinfer.node.name", "dash-b", "meshinfer.node.region", "us-east",
                "meshinfer.node.zone", "us-east-1", "meshinfer.rollout.tick-interval", "200ms",
                "pekko.cluster.seed-nodes", List.of("pekko://meshinfer@" + a.clusterHostPort())));
        await().atMost(Duration.ofSeconds(30)).until(() -> upMembers(a) == 2 && upMembers(b) == 2);
        for (String version : List.of("1", "2")) {
            Http.Reply r = Http.put(a.url() + "/v1/models/" + MODEL + "/versions/" + version + "?replicas=2",
                    TestModels.mlp());
            assertEquals(201, r.status(), r.body());
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> readyReplicas(a) == 4 && readyReplicas(b) == 4);
    }

    @AfterAll
    static void stop() {
        if (b != null) {
            b.close();
        }
        if (a != null) {
            a.close();
        }
    }

    private static JsonNode get(TestNode n, String path) throws IOException {
        Http.Reply r = Http.get(n.url() + path);
        assertEquals(200, r.status(), path + ": " + r.body());
        return JSON.readTree(r.body());
    }

    private static int upMembers(TestNode n) throws IOException {
        int up = 0;
        for (JsonNode m : get(n, "/v1/cluster").get("members")) {
            up += m.get("status").asText().equals("Up") && m.get("reachable").asBoolean() ? 1 : 0;
        }
        return up;
    }

    private static int readyReplicas(TestNode n) throws IOException {
        int ready = 0;
        for (JsonNode r : get(n, "/v1/cluster").get("replicas")) {
            ready += r.get("model").asText().equals(MODEL) && r.get("ready").asBoolean() ? 1 : 0;
        }
        return ready;
    }

    private static JsonNode statsOf(TestNode n, String version) throws IOException {
        for (JsonNode v : get(n, "/v1/ui/stats").get("versions")) {
            if (v.get("model").asText().equals(MODEL) && v.get("version").asText().equals(version)) {
                return v;
            }
        }
        return null;
    }

    private static String inferBody() {
        return "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]}";
    }

    @Test
    void servesThePageAndItsFilesWithTheirContentTypes() throws Exception {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        Map<String, String> types = Map.of("/ui", "text/html", "/ui/", "text/html", "/ui/index.html", "text/html",
                "/ui/dashboard.js", "javascript", "/ui/dashboard.css", "text/css",
                "/ui/favicon.svg", "image/svg+xml");
        for (var e : types.entrySet()) {
            for (TestNode n : List.of(a, b)) {
                HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(n.url() + e.getKey()))
                        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(200, r.statusCode(), e.getKey());
                String type = r.headers().firstValue("Content-Type").orElse("");
                assertTrue(type.startsWith(e.getValue()) || type.contains(e.getValue()), e.getKey() + ": " + type);
                assertTrue(r.headers().firstValue("Content-Security-Policy").orElse("").contains("default-src 'self'"),
                        e.getKey() + " has no content security policy");
            }
        }
        assertTrue(Http.get(a.url() + "/ui").body().contains("<script src=\"/ui/dashboard.js\""));
        assertEquals(404, Http.get(a.url() + "/ui/nothing-here.js").status());
        assertEquals(404, Http.get(a.url() + "/ui/..%2Freference.conf").status());
    }

    @Test
    void statsCountThisNodesRequestsAndLatencyPerVersion() throws Exception {
        JsonNode before = statsOf(b, "1");
        long total = before == null ? 0 : before.get("total").asLong();
        long count = before == null ? 0 : before.at("/latency/count").asLong();
        for (int i = 0; i < 5; i++) {
            Http.Reply r = Http.post(b.url() + "/v2/models/" + MODEL + "/versions/1/infer", inferBody());
            assertEquals(200, r.status(), r.body());
        }
        JsonNode after = statsOf(b, "1");
        assertNotNull(after, "no stats for " + MODEL + "@1");
        assertEquals(total + 5, after.get("total").asLong());
        assertEquals(total + 5, after.at("/requests/ok").asLong());
        assertEquals(count + 5, after.at("/latency/count").asLong());
        double p50 = after.at("/latency/p50").asDouble();
        assertTrue(p50 > 0 && p50 <= after.at("/latency/p99").asDouble(), after.toString());
        assertEquals(after.at("/latency/bounds").size() + 1, after.at("/latency/counts").size());
        assertEquals("dash-b", get(b, "/v1/ui/stats").get("node").asText());
    }

    @Test
    void quantilesInterpolateInsideTheirBucket() {
        ClassicHistogramBuckets buckets = ClassicHistogramBuckets.of(new double[] {1, 2, 4, Double.POSITIVE_INFINITY},
                new long[] {0, 10, 10, 0});
        assertEquals(2.0, DashboardStats.quantile(0.5, buckets), 1e-9);
        assertEquals(3.8, DashboardStats.quantile(0.95, buckets), 1e-9);
        assertEquals(1.02, DashboardStats.quantile(0.01, buckets), 1e-9);
        assertEquals(4.0, DashboardStats.quantile(0.99, ClassicHistogramBuckets.of(
                new double[] {1, 2, 4, Double.POSITIVE_INFINITY}, new long[] {0, 0, 1, 5})), 1e-9);
        assertEquals(null, DashboardStats.quantile(0.5, ClassicHistogramBuckets.of(
                new double[] {1, Double.POSITIVE_INFINITY}, new long[] {0, 0})));
    }

    @Test
    void headlessChromiumRendersTheLiveCluster() throws Exception {
        String chromium = chromium();
        Http.Reply started = Http.post(a.url() + "/v1/models/" + MODEL + "/rollout",
                "{\"to\": \"2\", \"strategy\": \"canary\", \"steps\": [50, 100], \"stepSeconds\": 600}");
        assertEquals(202, started.status(), started.body());
        await().atMost(Duration.ofSeconds(30)).until(() ->
                get(a, "/v1/cluster").at("/models/0/weights/2").asInt() == 50);

        String html;
        try (Traffic traffic = new Traffic(a.node().client())) {
            await().atMost(Duration.ofSeconds(10)).until(() -> traffic.answered.get() >= 20);
            html = render(chromium, a.url() + "/ui", SCREENSHOT);
        }
        assertFalse(html.contains("Cannot read this node"), html);

        // both members, grouped by region
        assertTrue(html.contains("<tr data-member=\"dash-a\" data-region=\"eu-west\" data-status=\"Up\""
                + " data-reachable=\"true\">"), html);
        assertTrue(html.contains("<tr data-member=\"dash-b\" data-region=\"us-east\" data-status=\"Up\""
                + " data-reachable=\"true\">"), html);
        assertTrue(html.contains("eu-west (1 member)") && html.contains("us-east (1 member)"), html);
        // each member's estimated replica memory (these nodes have no memory budget)
        assertTrue(html.contains("Memory (estimated)") && html.contains(" (no budget)"), html);
        // replicas per node
        assertTrue(html.contains("<tbody data-node=\"dash-b\">"), html);
        assertTrue(html.contains("<tr data-replica=\"dash-model@1#0\" data-ready=\"true\">"), html);
        // versions, traffic split, the rollout and attestation
        assertTrue(html.contains("<tr data-model=\"dash-model\" data-version=\"1\" data-weight=\"50\">"), html);
        assertTrue(html.contains("<tr data-model=\"dash-model\" data-version=\"2\" data-weight=\"50\">"), html);
        assertTrue(html.contains(" 50 %"), html);
        assertTrue(html.contains("data-rollout-state=\"running\""), html);
        assertTrue(html.contains("step 1 of 2"), html);
        assertTrue(html.contains("data-attested=\"2\" data-failed=\"0\""), html);
        // live figures and charts with data points
        double throughput = Double.parseDouble(group(html, "<output id=\"throughput\" data-value=\"([0-9.]+)\""));
        assertTrue(throughput > 0, "throughput shown: " + throughput);
        for (String chart : List.of("chart-throughput", "chart-latency", "chart-batch")) {
            String svg = group(html, "id=\"" + chart + "\">(<svg.*?</svg>)");
            int points = maxPoints(svg);
            assertTrue(points >= 2, chart + " has " + points + " points: " + svg);
        }
        assertTrue(Files.size(SCREENSHOT) > 20_000, "screenshot is only " + Files.size(SCREENSHOT) + " bytes");
    }

    @Test
    void aNodeStillJoiningItsClusterSaysSo() throws Exception {
        String chromium = chromium();
        int nobody;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            nobody = s.getLocalPort();
        }
        try (TestNode joining = TestNode.startJoining(Map.of("meshinfer.node.name", "dash-joining",
                "pekko.cluster.seed-nodes", List.of("pekko://meshinfer@127.0.0.1:" + nobody)))) {
            String html = render(chromium, joining.url() + "/ui", null);
            assertFalse(html.contains("Cannot read this node"), html);
            assertTrue(html.contains("Not in a cluster yet: this node is joining its seeds"), html);
            assertTrue(html.contains("No members yet"), html);
            assertTrue(html.contains("No models deployed"), html);
            assertTrue(html.contains("<svg"), html);
        }
    }

    @Test
    void aNodeWithAuthenticationAsksForATokenInsteadOfDrawingCharts() throws Exception {
        String chromium = chromium();
        Path keys = Files.createTempDirectory("meshinfer-dash-keys");
        java.security.KeyPair pair = io.meshinfer.security.TokenKeys.generate();
        io.meshinfer.security.TokenKeys.writePair(pair, keys);
        String token = new io.meshinfer.security.TokenIssuer(
                (java.security.interfaces.ECPrivateKey) pair.getPrivate(),
                (java.security.interfaces.ECPublicKey) pair.getPublic())
                .issue(new io.meshinfer.api.Principal("viewer", java.util.Set.of(), java.util.Set.of("*"),
                        java.util.Set.of("*"), null), Duration.ofHours(1));
        try (TestNode secured = TestNode.start(Map.of("meshinfer.node.name", "dash-auth",
                "meshinfer.security.auth-public-key",
                keys.resolve(io.meshinfer.security.TokenKeys.VERIFY_FILE).toString()))) {
            assertEquals(200, Http.get(secured.url() + "/ui").status(), "the page itself is open");
            assertEquals(401, Http.get(secured.url() + "/v1/ui/stats").status(), "its data is not");
            String html = render(chromium, secured.url() + "/ui", Path.of("target", "ui-dashboard-auth.png"));
            assertFalse(html.contains("Cannot read this node"), html);
            assertTrue(html.contains("data-auth=\"required\""), html);
            assertTrue(html.contains("<section id=\"auth\" class=\"auth\" aria-labelledby=\"auth-title\">"),
                    "the token field is shown: " + html);
            assertTrue(html.contains("<input id=\"token\" type=\"password\""), html);
            assertTrue(html.contains("its status needs a bearer token"), html);
            assertTrue(html.contains("Authentication required: no data without a valid token."), html);
            assertFalse(html.contains("<svg"), "no charts without data: " + html);

            // a user pastes a token: the page keeps it in this tab's session and shows the data
            JsonNode used = DevTools.evaluate(chromium, secured.url() + "/ui", """
                    (async () => {
                      const until = async (f, what) => {
                        const end = Date.now() + 20000;
                        while (!f()) {
                          if (Date.now() > end) throw new Error('timed out waiting for ' + what + ' (auth state '
                            + document.body.dataset.auth + ', status ' + document.getElementById('status').textContent + ')');
                          await new Promise((r) => setTimeout(r, 50));
                        }
                      };
                      await until(() => document.body.dataset.auth === 'required', 'the token field');
                      document.getElementById('token').value = 'Bearer TOKEN';
                      document.getElementById('token-use').click();
                      await until(() => document.body.dataset.auth === 'token'
                        && document.querySelector('tr[data-member="dash-auth"]'), 'the data');
                      const shown = {
                        session: sessionStorage.getItem('meshinfer.dashboard.token'),
                        local: localStorage.length,
                        url: location.href,
                        input: document.getElementById('token').value,
                        authHidden: document.getElementById('auth').hidden,
                        forgetShown: !document.getElementById('token-status').hidden,
                      };
                      document.getElementById('token-forget').click();
                      await until(() => document.body.dataset.auth === 'required', 'the token to be forgotten');
                      shown.afterForget = sessionStorage.getItem('meshinfer.dashboard.token');
                      return JSON.stringify(shown);
                    })()""".replace("TOKEN", token));
            assertEquals(token, used.path("session").asText(), "kept in sessionStorage: " + used);
            assertEquals(0, used.path("local").asInt(), "nothing in localStorage");
            assertEquals(secured.url() + "/ui", used.path("url").asText(), "never in the URL");
            assertEquals("", used.path("input").asText(), "the field is cleared");
            assertTrue(used.path("authHidden").asBoolean() && used.path("forgetShown").asBoolean(), used.toString());
            assertTrue(used.path("afterForget").isNull(), "forgotten: " + used);
        } finally {
            try (Stream<Path> files = Files.walk(keys)) {
                files.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
            }
        }
    }

    private static String group(String html, String regex) {
        Matcher m = Pattern.compile(regex, Pattern.DOTALL).matcher(html);
        assertTrue(m.find(), "no match for " + regex + " in\n" + html);
        return m.group(1);
    }

    private static int maxPoints(String svg) {
        Matcher m = Pattern.compile("<polyline points=\"([^\"]*)\"").matcher(svg);
        int max = 0;
        while (m.find()) {
            max = Math.max(max, m.group(1).isBlank() ? 0 : m.group(1).trim().split("\\s+").length);
        }
        return max;
    }

    /**
     * Loads {@code url} in headless Chromium, lets 10 s of page time pass (virtual time:
     * about five refreshes, however fast the machine), and returns the DOM; writes a
     * screenshot to {@code screenshot} unless it is null.
     */
    private static String render(String chromium, String url, Path screenshot) throws Exception {
        Path profile = Files.createTempDirectory("meshinfer-chromium");
        Path out = Files.createTempFile("meshinfer-dom", ".html");
        Path log = Files.createDirectories(Path.of("target")).resolve("ui-chromium.log");
        List<String> command = new ArrayList<>(List.of(chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions", "--hide-scrollbars",
                "--user-data-dir=" + profile, "--window-size=1400,1000", "--virtual-time-budget=10000"));
        if (screenshot != null) {
            Files.deleteIfExists(screenshot);
            command.add("--screenshot=" + screenshot.toAbsolutePath());
        }
        command.addAll(List.of("--dump-dom", url));
        Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(log.toFile()).start();
        try {
            if (!p.waitFor(45, TimeUnit.SECONDS)) {
                fail("chromium did not finish within 45 s; see " + log.toAbsolutePath());
            }
            assertEquals(0, p.exitValue(), "chromium failed; see " + log.toAbsolutePath());
            assertTrue(screenshot == null || Files.exists(screenshot), "chromium wrote no screenshot; see " + log);
            return Files.readString(out, StandardCharsets.UTF_8);
        } finally {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            Files.deleteIfExists(out);
            try (Stream<Path> files = Files.walk(profile)) {
                files.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
            }
        }
    }

    /**
     * Headless Chromium driven over the DevTools protocol (a WebSocket from Java's own HTTP
     * client): opens {@code url}, evaluates {@code expression} (a promise of a JSON string) in
     * the page in real time, and returns that JSON.
     */
    private static final class DevTools {
        static JsonNode evaluate(String chromium, String url, String expression) throws Exception {
            Path profile = Files.createTempDirectory("meshinfer-chromium");
            Path log = Files.createDirectories(Path.of("target")).resolve("ui-chromium-devtools.log");
            Process p = new ProcessBuilder(chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions", "--user-data-dir=" + profile,
                    "--remote-debugging-port=0", "--window-size=1400,1000", url)
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            java.net.http.WebSocket socket = null;
            try {
                Path portFile = profile.resolve("DevToolsActivePort");
                await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() ->
                        Files.readAllLines(portFile).size() >= 2);
                int port = Integer.parseInt(Files.readAllLines(portFile).get(0).trim());
                String pageSocket = null;
                for (JsonNode t : JSON.readTree(Http.get("http://127.0.0.1:" + port + "/json/list").body())) {
                    if (t.path("type").asText().equals("page") && t.path("url").asText().startsWith(url)) {
                        pageSocket = t.path("webSocketDebuggerUrl").asText();
                    }
                }
                assertNotNull(pageSocket, "no page for " + url + " in Chromium's targets; see " + log);
                java.util.Map<Integer, java.util.concurrent.CompletableFuture<JsonNode>> replies =
                        new java.util.concurrent.ConcurrentHashMap<>();
                StringBuilder frame = new StringBuilder();
                socket = HttpClient.newHttpClient().newWebSocketBuilder().buildAsync(URI.create(pageSocket),
                        new java.net.http.WebSocket.Listener() {
                            @Override
                            public java.util.concurrent.CompletionStage<?> onText(java.net.http.WebSocket ws,
                                                                                   CharSequence data, boolean last) {
                                frame.append(data);
                                if (last) {
                                    try {
                                        JsonNode message = JSON.readTree(frame.toString());
                                        if (message.has("id")) {
                                            replies.computeIfAbsent(message.get("id").asInt(),
                                                    k -> new java.util.concurrent.CompletableFuture<>()).complete(message);
                                        }
                                    } catch (IOException e) {
                                        throw new java.io.UncheckedIOException(e);
                                    } finally {
                                        frame.setLength(0);
                                    }
                                }
                                ws.request(1);
                                return null;
                            }
                        }).get(10, TimeUnit.SECONDS);
                java.net.http.WebSocket ws = socket;
                java.util.concurrent.atomic.AtomicInteger ids = new java.util.concurrent.atomic.AtomicInteger();
                java.util.function.Function<String, JsonNode> evaluate = script -> {
                    int id = ids.incrementAndGet();
                    ObjectNode call = JSON.createObjectNode().put("id", id).put("method", "Runtime.evaluate");
                    call.putObject("params").put("expression", script).put("awaitPromise", true)
                            .put("returnByValue", true);
                    try {
                        ws.sendText(JSON.writeValueAsString(call), true).get(10, TimeUnit.SECONDS);
                        return replies.computeIfAbsent(id, k -> new java.util.concurrent.CompletableFuture<>())
                                .get(60, TimeUnit.SECONDS);
                    } catch (Exception e) {
                        throw new IllegalStateException("DevTools call failed", e);
                    }
                };
                // the page may still be loading (a navigation destroys the context a call runs in)
                await().atMost(Duration.ofSeconds(30)).until(() -> evaluate.apply(
                        "document.readyState === 'complete' && document.getElementById('token') !== null")
                        .path("result").path("result").path("value").asBoolean());
                JsonNode reply = evaluate.apply(expression);
                JsonNode result = reply.path("result");
                if (!reply.has("result") || result.has("exceptionDetails")) {
                    fail("the page script failed: " + reply);
                }
                return JSON.readTree(result.path("result").path("value").asText());
            } finally {
                if (socket != null) {
                    socket.abort();
                }
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                try (Stream<Path> files = Files.walk(profile)) {
                    files.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
                }
            }
        }
    }

    /** {@code chromium} on the PATH; fails the test (CI installs it) when there is none. */
    private static String chromium() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path candidate = Path.of(dir, "chromium");
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        return fail("chromium is not installed, and this test renders the dashboard in it: install Debian's"
                + " package as root with 'apt-get install -y chromium' (.ci/run does this before 'mvn -B verify')");
    }

    /** Unpinned requests from two concurrent callers until closed; waits for every answer. */
    private static final class Traffic implements AutoCloseable {
        final AtomicLong sent = new AtomicLong();
        final AtomicLong answered = new AtomicLong();
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final Thread thread;

        Traffic(InferenceClient client) {
            Semaphore permits = new Semaphore(2);
            thread = new Thread(() -> {
                while (running.get()) {
                    try {
                        if (!permits.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                            continue;
                        }
                    } catch (InterruptedException e) {
                        return;
                    }
                    sent.incrementAndGet();
                    client.infer(InferenceRequest.builder(MODEL).timeout(Duration.ofSeconds(10))
                                    .input("x", Tensor.ofFloats(new long[] {1, 4}, 1, 2, 3, 4)).build())
                            .whenComplete((r, e) -> {
                                answered.incrementAndGet();
                                permits.release();
                            });
                }
            }, "dashboard-traffic");
            thread.start();
        }

        @Override
        public void close() throws InterruptedException {
            running.set(false);
            thread.join(10_000);
            await().atMost(Duration.ofSeconds(15)).until(() -> answered.get() == sent.get());
        }
    }
}
