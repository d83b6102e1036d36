package io.meshinfer.gateway;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
 * node that has not joined its cluster yet.
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
