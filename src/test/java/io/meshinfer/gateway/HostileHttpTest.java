package io.meshinfer.gateway;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.models.BenchModels;
import io.meshinfer.protocol.OipBinary;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.HostileRequests;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.HostileModels;
import io.meshinfer.testmodels.TestModels;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A real node facing a hostile network: bodies over the input limits, seeded hostile
 * bodies, raw garbage and malformed HTTP, slowloris connections on the gateway port,
 * path traversal, model files pointing outside the node, and garbage on the cluster
 * (Artery) port. Each case ends in a refusal (a 4xx with a JSON error where the gateway
 * answers, or pekko-http's own refusal, or a closed connection) within a bound, and after
 * each test the node still serves a valid request. Connections here are raw sockets with
 * {@code Connection: close}: the node runs with a short idle timeout, which pooled
 * clients would trip over.
 */
class HostileHttpTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String GOOD = "{\"inputs\":[{\"name\":\"x\",\"shape\":[2,4],\"datatype\":\"FP32\","
            + "\"data\":[1,2,3,4,5,6,7,8]}]}";
    // short enough for the slow-connection test to see the server close them, long enough that
    // a loaded machine serves the class's large deploy and inference within them
    private static final Duration IDLE_TIMEOUT = Duration.ofSeconds(8);
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(6);
    private static TestNode node;
    private static int port;

    @BeforeAll
    static void start() {
        node = TestNode.start(Map.of(
                "pekko.http.server.idle-timeout", IDLE_TIMEOUT.toMillis() + "ms",
                "pekko.http.server.request-timeout", REQUEST_TIMEOUT.toMillis() + "ms"));
        port = URI.create(node.url()).getPort();
        assertEquals(201, Http.put(node.url() + "/v1/models/mlp/versions/1", TestModels.mlp()).status());
        await().atMost(Duration.ofSeconds(30)).until(() -> post("/v2/models/mlp/infer", GOOD).status() == 200);
    }

    @AfterAll
    static void stop() {
        node.close();
    }

    @AfterEach
    void nodeStillServes() throws IOException {
        Reply r = post("/v2/models/mlp/infer", GOOD);
        assertEquals(200, r.status(), r.body());
        float[] expected = TestModels.mlpReference(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 2);
        assertEquals(expected[5], JSON.readTree(r.body()).at("/outputs/0/data/5").floatValue(), 1e-5);
        var self = Cluster.get(node.node().clusterSystem()).selfMember();
        assertEquals(MemberStatus.up(), self.status());
    }

    @Test
    void bodiesOverTheInputLimitsAre400WithAJsonError() throws IOException {
        assertError(post("/v2/models/mlp/infer", "{\"inputs\":[{\"name\":\"x\",\"shape\":[1000000,1000000],"
                + "\"datatype\":\"FP32\",\"data\":[1]}]}"), 400,
                "input 'x': shape [1000000, 1000000] exceeds the limit of 16777216 elements");
        assertError(post("/v2/models/mlp/infer", "{\"inputs\":[{\"name\":\"x\",\"shape\":[" + "1,".repeat(16)
                + "1],\"datatype\":\"FP32\",\"data\":[1]}]}"), 400,
                "input 'x': shape has 17 dimensions, more than the limit of 16");
        assertError(post("/v2/models/mlp/infer", "{\"inputs\":[{\"name\":\"x\",\"shape\":[0,100000000000],"
                + "\"datatype\":\"FP32\",\"data\":[]}]}"), 400,
                "input 'x': shape dimension 1 is 100000000000, more than the limit of 16777216");
        StringBuilder many = new StringBuilder("{\"inputs\":[");
        for (int i = 0; i < 257; i++) {
            many.append(i == 0 ? "" : ",").append("{\"name\":\"i").append(i)
                    .append("\",\"shape\":[1],\"datatype\":\"BOOL\",\"data\":[true]}");
        }
        assertError(post("/v2/models/mlp/infer", many + "]}"), 400, "\"inputs\" holds more than 256 tensors, the limit");
        assertError(post("/v2/models/mlp/infer", "{\"id\":\"" + "i".repeat(300) + "\",\"inputs\":[]}"), 400,
                "\"id\" is 300 characters long, more than the limit of 256");
        assertError(post("/v2/models/mlp/infer", residency(33)), 400,
                "parameter \"residency\" names more than 32 regions, the limit");
        // a binary header claiming a gigabyte: refused from the header, nothing allocated
        byte[] header = ("{\"inputs\":[{\"name\":\"x\",\"shape\":[268435456],\"datatype\":\"FP32\","
                + "\"parameters\":{\"binary_data_size\":1073741824}}]}").getBytes(StandardCharsets.UTF_8);
        byte[] body = java.util.Arrays.copyOf(header, header.length + 32);
        assertError(send("POST", "/v2/models/mlp/infer", body, OipBinary.HEADER_LENGTH + ": " + header.length), 400,
                "input 'x': shape dimension 0 is 268435456, more than the limit of 16777216");
        assertError(send("PUT", "/v1/models/m2/versions/1?regions=" + regions(40), TestModels.mlp(), null), 400,
                "regions names more than 32 regions, the limit");
    }

    private static String regions(int n) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) {
            b.append(i == 0 ? "" : ",").append('r').append(i);
        }
        return b.toString();
    }

    private static String residency(int regions) {
        StringBuilder b = new StringBuilder("{\"inputs\":[],\"parameters\":{\"residency\":[");
        for (int i = 0; i < regions; i++) {
            b.append(i == 0 ? "" : ",").append("\"r").append(i).append('"');
        }
        return b + "]}}";
    }

    @Test
    void hostileBodiesGetATypedAnswerInTime() {
        String mlpSeed = "{\"id\":\"q\",\"parameters\":{\"timeout_ms\":2000},\"inputs\":[{\"name\":\"x\",\"shape\":[2,4],"
                + "\"datatype\":\"FP32\",\"data\":[[1,2,3,4],[5,6,7,8]]}],\"outputs\":[{\"name\":\"y\"}]}";
        int[] statuses = new int[600];
        assertTimeoutPreemptively(Duration.ofSeconds(90), () -> {
            for (int i = 0; i < 300; i++) {
                Random random = new Random(31L * 1_000_003L + i);
                Reply r;
                if (i % 3 == 2) {
                    HostileRequests.Body b = HostileRequests.binary(random);
                    r = send("POST", "/v2/models/mlp/infer", b.bytes(),
                            b.headerLength() == null ? null : OipBinary.HEADER_LENGTH + ": " + b.headerLength());
                } else {
                    byte[] body = i % 3 == 0 ? HostileRequests.json(mlpSeed, random) : HostileRequests.json(random);
                    r = send("POST", "/v2/models/mlp/infer", body, null);
                }
                statuses[r.status()]++;
                assertTrue(r.status() == 200 || r.status() == 400, "case " + i + ": " + r);
                if (r.status() == 400) {
                    assertTrue(JSON.readTree(r.body()).path("error").isTextual(), "case " + i + ": " + r);
                }
            }
        });
        assertTrue(statuses[200] > 3 && statuses[400] > 200, "200: " + statuses[200] + ", 400: " + statuses[400]);
    }

    @Test
    void rawGarbageAndMalformedHttpAreRefusedOrClosed() {
        List<byte[]> garbage = new ArrayList<>();
        Random random = new Random(41);
        for (int i = 0; i < 20; i++) {
            byte[] b = new byte[1 + random.nextInt(8192)];
            random.nextBytes(b);
            garbage.add(b);
        }
        String get = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n";
        for (String raw : List.of(
                "\r\n\r\n\r\n",
                "GET\r\n\r\n",
                "GET / HTTP/9.9\r\nHost: x\r\n\r\n",
                "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                "G\u0000ET / HTTP/1.1\r\nHost: x\r\n\r\n",
                "ABCDEFGHIJKLMNOPQRSTUVWXYZ / HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET /" + "a".repeat(10_000) + " HTTP/1.1\r\nHost: x\r\n\r\n",
                get + "X-Big: " + "v".repeat(20_000) + "\r\n\r\n",
                get + "X-" + "n".repeat(200) + ": v\r\n\r\n",
                get + "X-H: v\r\n".repeat(200) + "\r\n",
                "POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n{",
                "POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                "POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n",
                "POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "FFFFFFFFFFFFFFFF\r\nabc\r\n",
                "POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "5;" + "e".repeat(1000) + "\r\nabcde\r\n0\r\n\r\n",
                "POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\n" + OipBinary.HEADER_LENGTH
                        + ": -5\r\nContent-Length: 2\r\n\r\n{}",
                "POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        + "Content-Length: 2\r\nContent-Encoding: gzip\r\n\r\n{}")) {
            garbage.add(raw.getBytes(StandardCharsets.ISO_8859_1));
        }
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            for (int i = 0; i < garbage.size(); i++) {
                String answer = exchangeRaw(garbage.get(i), true);
                // a 4xx or 5xx status line (pekko-http's refusal or the gateway's), or a closed connection
                assertTrue(answer.isEmpty() || answer.matches("(?s)HTTP/1\\.1 [45]\\d\\d .*"),
                        "case " + i + " answered: " + answer.lines().findFirst().orElse(""));
            }
        });
    }

    @Test
    void pathsFromUserInputNeverReachTheFileSystem() throws IOException {
        assertError(send("GET", "/v1/artifacts/..%2F..%2F..%2Fetc%2Fpasswd", new byte[0], null), 400,
                "not a sha256: ../../../etc/passwd");
        assertError(send("GET", "/v1/artifacts/" + "AB".repeat(32), new byte[0], null), 400,
                "not a sha256: " + "AB".repeat(32));
        Reply dots = send("GET", "/v1/artifacts/../../../etc/passwd", new byte[0], null);
        assertTrue(dots.status() == 404 || dots.status() == 400, dots.toString());
        assertFalse(dots.body().contains("root:"), dots.body());
        for (String name : List.of("a%2Fb", "..%2F..%2Fx", "-x", "x".repeat(65), "%C3%A9", "a%20b")) {
            Reply r = send("PUT", "/v1/models/" + name + "/versions/1", TestModels.mlp(), null);
            assertEquals(400, r.status(), name + ": " + r);
            assertTrue(JSON.readTree(r.body()).get("error").asText().startsWith("model name '"), r.body());
            Reply v = send("PUT", "/v1/models/ok/versions/" + name, TestModels.mlp(), null);
            assertEquals(400, v.status(), name + ": " + v);
        }
        // unencoded dot segments: refused as a name, or not a route at all; never deployed
        for (String path : List.of("/v1/models/../versions/1", "/v1/models/ok/versions/..", "/v1/models/%2E%2E/versions/1",
                "/v1/models/ok/versions/%2e%2E")) {
            int status = send("PUT", path, TestModels.mlp(), null).status();
            assertTrue(status == 400 || status == 404 || status == 405, path + ": " + status);
        }
    }

    @Test
    void modelFilesReachingOutsideTheNodeAreRefusedAtDeploy() throws IOException {
        for (String location : List.of("/etc/passwd", "../../../../../etc/passwd", "weights.bin")) {
            Reply r = send("PUT", "/v1/models/external/versions/1", HostileModels.externalData(location), null);
            assertEquals(400, r.status(), r.body());
            assertTrue(JSON.readTree(r.body()).get("error").asText().startsWith("tensor 'b2' (graph, initializer)"
                    + " refers to external data in '" + location + "'; meshinfer deploys self-contained model files"
                    + " only"), r.body());
        }
        Reply crasher = send("PUT", "/v1/models/crasher/versions/1",
                HostileModels.initializerOfType(Integer.MIN_VALUE), null);
        assertEquals(400, crasher.status(), crasher.body());
        assertEquals(404, send("GET", "/v2/models/external", new byte[0], null).status());
    }

    @Test
    void largeModelsAndBodiesStillPassTheirOwnLimits() throws IOException {
        // pekko-http's server-wide body limit is 1 MiB now: deploy and inference set their own
        byte[] big = BenchModels.mlp().onnx();
        assertTrue(big.length > 4 << 20);
        Reply deployed = send("PUT", "/v1/models/big/versions/1?replicas=1", big, null);
        assertEquals(201, deployed.status(), deployed.body());
        StringBuilder large = new StringBuilder("{\"inputs\":[{\"name\":\"x\",\"shape\":[100000,4],"
                + "\"datatype\":\"FP32\",\"data\":[");
        for (int i = 0; i < 400_000; i++) {
            large.append(i == 0 ? "" : ",").append("0.5");
        }
        byte[] body = large.append("]}]}").toString().getBytes(StandardCharsets.UTF_8);
        assertTrue(body.length > 1 << 20);
        Reply r = send("POST", "/v2/models/mlp/infer", body, null);
        assertEquals(200, r.status(), r.body().substring(0, Math.min(200, r.body().length())));
        assertEquals(200, send("DELETE", "/v1/models/big/versions/1", new byte[0], null).status());
    }

    @Test
    void slowlorisConnectionsNeitherStopTheNodeNorLiveForever() throws Exception {
        List<Socket> slow = new ArrayList<>();
        try {
            for (int i = 0; i < 60; i++) {
                Socket s = new Socket();
                s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
                OutputStream out = s.getOutputStream();
                if (i % 2 == 0) {
                    // headers that never end
                    out.write("POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nX-Slow: a".getBytes(StandardCharsets.US_ASCII));
                } else {
                    // a body that never arrives in full
                    out.write(("POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            + "Content-Length: 100000\r\n\r\n{\"inputs\":[").getBytes(StandardCharsets.US_ASCII));
                }
                out.flush();
                slow.add(s);
            }
            // trickle a byte on each every half second, well within the idle timeout, while others are served
            long until = System.nanoTime() + IDLE_TIMEOUT.toNanos();
            long nextTrickle = 0;
            int served = 0;
            while (System.nanoTime() < until) {
                boolean trickle = System.nanoTime() >= nextTrickle;
                if (trickle) {
                    nextTrickle = System.nanoTime() + Duration.ofMillis(500).toNanos();
                }
                for (Socket s : trickle ? slow : List.<Socket>of()) {
                    try {
                        s.getOutputStream().write(' ');
                    } catch (IOException closedAlready) {
                        // the server may answer the slow bodies at its request timeout
                    }
                }
                long start = System.nanoTime();
                assertEquals(200, post("/v2/models/mlp/infer", GOOD).status());
                // one stuck behind the slow connections would wait for the request timeout
                assertTrue(System.nanoTime() - start < REQUEST_TIMEOUT.dividedBy(2).toNanos(), "a request waited"
                        + " behind slow connections");
                served++;
            }
            assertTrue(served > 3, "served " + served);
            // once they stop sending, every slow connection is answered or closed by the server
            for (Socket s : slow) {
                s.setSoTimeout(200);
            }
            await().atMost(IDLE_TIMEOUT.multipliedBy(3)).pollInterval(Duration.ofMillis(250))
                    .until(() -> slow.stream().allMatch(HostileHttpTest::answeredOrClosed));
        } finally {
            for (Socket s : slow) {
                s.close();
            }
        }
    }

    @Test
    void garbageOnTheClusterPortDoesNotHarmTheNode() throws Exception {
        String[] hostPort = node.clusterHostPort().split(":");
        int clusterPort = Integer.parseInt(hostPort[1]);
        Random random = new Random(51);
        List<byte[]> payloads = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            byte[] b = new byte[1 + random.nextInt(64 * 1024)];
            random.nextBytes(b);
            payloads.add(b);
        }
        byte[] magic = {'A', 'K', 'K', 'A'};
        for (int streamId : new int[] {1, 2, 3, 0, 9, 255}) {
            // Artery's magic and a stream id, then a frame header claiming 1 MiB that never
            // arrives, or a frame of random bytes that reaches Artery's envelope decoder. (Not a
            // length near 2 GiB: Pekko 1.2.1 has no inbound frame bound and its parser then spins
            // for good, logging without end; SECURITY.md, known limitations.)
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            b.writeBytes(magic);
            b.write(streamId);
            if (streamId % 2 == 0) {
                b.writeBytes(new byte[] {0, 0, 0x10, 0});
            } else {
                byte[] frame = new byte[200 + random.nextInt(2000)];
                random.nextBytes(frame);
                b.writeBytes(new byte[] {(byte) frame.length, (byte) (frame.length >> 8), 0, 0});
                b.writeBytes(frame);
            }
            payloads.add(b.toByteArray());
        }
        payloads.add(("GET / HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            for (byte[] p : payloads) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress(hostPort[0], clusterPort), 5_000);
                    s.setSoTimeout(1_000);
                    try {
                        s.getOutputStream().write(p);
                        s.getOutputStream().flush();
                        s.getInputStream().read(new byte[1024]);
                    } catch (SocketTimeoutException | SocketException ignoredEitherWay) {
                        // Artery may keep a connection with a well-formed header open, or reset it
                    }
                }
            }
        });
        var cluster = Cluster.get(node.node().clusterSystem());
        assertEquals(MemberStatus.up(), cluster.selfMember().status());
        assertTrue(cluster.state().getUnreachable().isEmpty(), "unreachable: " + cluster.state().getUnreachable());
        assertEquals(200, send("GET", "/v2/health/ready", new byte[0], null).status());
    }

    // ---------------------------------------------------------------- helpers

    /** Status and body of one exchange. */
    private record Reply(int status, String body) {
    }

    private static void assertError(Reply r, int status, String message) throws IOException {
        assertEquals(status, r.status(), r.body());
        assertEquals(message, JSON.readTree(r.body()).get("error").asText(), r.body());
    }

    private static Reply post(String path, String json) throws IOException {
        return send("POST", path, json.getBytes(StandardCharsets.UTF_8), null);
    }

    /** One request on a fresh connection; {@code extraHeader} is one "Name: value" line or null. */
    private static Reply send(String method, String path, byte[] body, String extraHeader) throws IOException {
        ByteArrayOutputStream request = new ByteArrayOutputStream();
        request.writeBytes((method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                + "Content-Type: " + (method.equals("PUT") ? "application/octet-stream" : "application/json") + "\r\n"
                + (extraHeader == null ? "" : extraHeader + "\r\n")
                + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        request.writeBytes(body);
        String answer = exchangeRaw(request.toByteArray(), false);
        int headEnd = answer.indexOf("\r\n\r\n");
        if (!answer.startsWith("HTTP/1.1 ") || headEnd < 0) {
            throw new IOException("not an HTTP answer: " + answer.lines().findFirst().orElse("(nothing)"));
        }
        String head = answer.substring(0, headEnd);
        String rest = answer.substring(headEnd + 4);
        if (head.toLowerCase(java.util.Locale.ROOT).contains("transfer-encoding: chunked")) {
            rest = unchunk(rest);
        }
        return new Reply(Integer.parseInt(answer.substring(9, 12)), rest);
    }

    /**
     * Writes {@code bytes} and reads until the server closes (or 10 s pass); the answer as
     * ISO-8859-1 text, empty if the server closed or reset without answering.
     */
    private static String exchangeRaw(byte[] bytes, boolean tolerateReset) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            s.setSoTimeout(10_000);
            ByteArrayOutputStream in = new ByteArrayOutputStream();
            try {
                s.getOutputStream().write(bytes);
                s.getOutputStream().flush();
                if (tolerateReset) {
                    s.shutdownOutput();
                }
                InputStream is = s.getInputStream();
                byte[] buf = new byte[8192];
                int n;
                while ((n = is.read(buf)) >= 0) {
                    in.write(buf, 0, n);
                }
            } catch (SocketException reset) {
                if (!tolerateReset) {
                    throw reset;
                }
            }
            return in.toString(StandardCharsets.ISO_8859_1);
        }
    }

    private static String unchunk(String chunked) {
        StringBuilder out = new StringBuilder();
        int at = 0;
        while (true) {
            int lineEnd = chunked.indexOf("\r\n", at);
            int size = Integer.parseInt(chunked.substring(at, lineEnd).split(";")[0].trim(), 16);
            if (size == 0) {
                return out.toString();
            }
            out.append(chunked, lineEnd + 2, lineEnd + 2 + size);
            at = lineEnd + 2 + size + 2;
        }
    }

    /** Whether the server has answered this connection or closed it. */
    private static boolean answeredOrClosed(Socket s) {
        try {
            s.getInputStream().read(); // a byte of an answer, or -1: closed
            return true;
        } catch (SocketTimeoutException stillOpen) {
            return false;
        } catch (IOException reset) {
            return true;
        }
    }
}
