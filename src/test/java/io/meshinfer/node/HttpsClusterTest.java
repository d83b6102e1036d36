package io.meshinfer.node;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.security.tls.PemFiles;
import io.meshinfer.security.tls.ReloadingSslContext;
import io.meshinfer.security.tls.TestCertificates;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testkit.CliRun;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import java.io.IOException;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two real nodes in one JVM with mutual TLS between them and HTTPS gateways, each with its
 * own certificate from one CA: the gateway answers clients that trust the CA and refuses
 * the others' handshakes, members publish HTTPS URLs and fetch artifacts from each other
 * over HTTPS, the CLI reaches an HTTPS gateway with {@code --ca-cert}, and a gateway
 * certificate replaced on disk is served to new connections without a restart.
 *
 * <p>Artifacts go only to cluster members: each node serves them on its own mutual-TLS
 * artifact port (published as its {@code artifacts:} role), which refuses clients without a
 * certificate or with one from another CA and serves a cluster certificate's holder; the
 * gateway answers 403 to them; and a node's fetch refuses a server with another CA's
 * certificate.
 */
class HttpsClusterTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path certs;
    @TempDir
    static Path otherCa;
    private static TestNode a;
    private static TestNode b;
    private static HttpClient client;

    @BeforeAll
    static void start() throws Exception {
        TestCertificates.generate(certs, "tls-a", "tls-b", "probe");
        TestCertificates.generate(otherCa, "intruder");
        client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
                .sslContext(PemFiles.trusting(certs.resolve("ca.crt"))).build();
        a = TestNode.start(tls("tls-a", Map.of()));
        b = TestNode.start(tls("tls-b", Map.of("pekko.cluster.seed-nodes",
                List.of("pekko://meshinfer@" + a.clusterHostPort()))));
        await().atMost(Duration.ofSeconds(30)).until(() -> upMembers(a) == 2 && upMembers(b) == 2);
    }

    private static Map<String, Object> tls(String name, Map<String, Object> more) {
        Map<String, Object> c = new java.util.HashMap<>(more);
        c.put("meshinfer.node.name", name);
        c.put("meshinfer.security.tls-dir", certs.resolve(name).toString());
        c.put("meshinfer.security.tls-refresh-interval", "1s");
        c.put("meshinfer.http.tls.enabled", true);
        return c;
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

    private static HttpResponse<String> get(HttpClient via, String url) throws Exception {
        return via.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20)).GET().build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    private static JsonNode cluster(TestNode n) throws Exception {
        return JSON.readTree(get(client, n.url() + "/v1/cluster").body());
    }

    private static int upMembers(TestNode n) throws Exception {
        int up = 0;
        for (JsonNode m : cluster(n).get("members")) {
            if (m.get("status").asText().equals("Up") && m.get("reachable").asBoolean()) {
                up++;
            }
        }
        return up;
    }

    @Test
    void theGatewayAnswersOverHttpsOnlyToClientsTrustingTheClusterCa() throws Exception {
        assertTrue(a.url().startsWith("https://127.0.0.1:"), a.url());
        HttpResponse<String> live = get(client, a.url() + "/v2/health/live");
        assertEquals(200, live.statusCode(), live.body());
        assertEquals("TLSv1.3", live.sslSession().orElseThrow().getProtocol());

        HttpClient jvmDefaults = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        assertThrows(SSLHandshakeException.class, () -> get(jvmDefaults, a.url() + "/v2/health/live"));
        assertThrows(IOException.class,
                () -> get(jvmDefaults, a.url().replace("https:", "http:") + "/v2/health/live"), "plain HTTP");
    }

    @Test
    void membersPublishHttpsUrlsAndFetchArtifactsFromEachOtherOverHttps() throws Exception {
        Set<String> urls = new HashSet<>();
        for (JsonNode m : cluster(b).get("members")) {
            urls.add(m.get("http").asText());
        }
        assertEquals(Set.of(a.url(), b.url()), urls);
        Set<String> artifactUrls = new HashSet<>();
        for (JsonNode m : cluster(b).get("members")) {
            artifactUrls.add(m.path("artifacts").asText());
        }
        assertEquals(Set.of(a.node().artifactUrl().orElseThrow(), b.node().artifactUrl().orElseThrow()), artifactUrls);
        assertTrue(artifactUrls.stream().allMatch(u -> u.startsWith("https://127.0.0.1:") && !urls.contains(u)),
                "artifact ports are their own: " + artifactUrls);

        // uploaded to a only: b must stream the file from a's HTTPS gateway to load its replica
        HttpResponse<String> deployed = client.send(HttpRequest.newBuilder(
                        URI.create(a.url() + "/v1/models/over-tls/versions/1?replicas=2"))
                .PUT(HttpRequest.BodyPublishers.ofByteArray(TestModels.mlp())).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(201, deployed.statusCode(), deployed.body());
        await().atMost(Duration.ofSeconds(60)).until(() -> readyReplicaNodes(a, "over-tls").equals(
                Set.of("tls-a", "tls-b")));
        String sha = io.meshinfer.registry.ArtifactStore.sha256(TestModels.mlp());
        assertTrue(b.resources().store().contains(sha), "b stored the fetched artifact");
        // which it can only have fetched from a's artifact port: a's gateway refuses artifacts
        assertEquals(403, get(client, a.url() + "/v1/artifacts/" + sha).statusCode());

        InferenceResponse r = b.node().client().infer(InferenceRequest.builder("over-tls")
                        .input("x", Tensor.ofFloats(new long[] {1, 4}, 1, 2, 3, 4)).build())
                .toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertEquals("1", r.version());
    }

    @Test
    void artifactsGoOnlyToHoldersOfAClusterCertificate() throws Exception {
        byte[] bytes = new byte[256 * 1024];
        new java.util.Random(6).nextBytes(bytes);
        String sha = a.resources().store().put(bytes);
        String artifact = a.node().artifactUrl().orElseThrow() + "/v1/artifacts/" + sha;

        HttpResponse<String> refused = get(client, a.url() + "/v1/artifacts/" + sha);
        assertEquals(403, refused.statusCode(), refused.body());
        assertTrue(refused.body().contains("\"error\"") && refused.body().contains("artifact port"), refused.body());

        HttpClient member = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
                .sslContext(ReloadingSslContext.clusterMember(certs.resolve("probe"), Duration.ofMinutes(1)).get())
                .build();
        HttpResponse<byte[]> served = member.send(HttpRequest.newBuilder(URI.create(artifact))
                .timeout(Duration.ofSeconds(20)).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, served.statusCode());
        assertTrue(java.util.Arrays.equals(bytes, served.body()), "the artifact's bytes");
        assertEquals(404, get(member, a.node().artifactUrl().orElseThrow() + "/v1/cluster").statusCode(),
                "the artifact port serves artifacts only");

        // trusting the cluster's CA but presenting no certificate: the handshake is refused
        assertThrows(IOException.class, () -> get(client, artifact));
        // a certificate from another CA
        Path intruder = otherCa.resolve("intruder");
        HttpClient stranger = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
                .sslContext(ReloadingSslContext.identity(intruder.resolve("tls.key"), intruder.resolve("tls.crt"),
                        java.util.Optional.of(certs.resolve("ca.crt")), Duration.ofMinutes(1)).get())
                .build();
        assertThrows(IOException.class, () -> get(stranger, artifact));
        // plain HTTP
        assertThrows(IOException.class, () -> get(HttpClient.newHttpClient(), artifact.replace("https:", "http:")));
    }

    @Test
    void aNodeFetchesArtifactsOnlyFromServersWithAClusterCertificate() throws Exception {
        // an impostor serving any bytes over TLS with another CA's certificate
        Path intruder = otherCa.resolve("intruder");
        com.sun.net.httpserver.HttpsServer impostor = com.sun.net.httpserver.HttpsServer.create(
                new java.net.InetSocketAddress("127.0.0.1", 0), 0);
        impostor.setHttpsConfigurator(new com.sun.net.httpserver.HttpsConfigurator(ReloadingSslContext.identity(
                intruder.resolve("tls.key"), intruder.resolve("tls.crt"), java.util.Optional.empty(),
                Duration.ofMinutes(1)).get()));
        impostor.createContext("/", exchange -> {
            exchange.sendResponseHeaders(200, 2);
            exchange.getResponseBody().write(new byte[] {1, 2});
            exchange.close();
        });
        impostor.start();
        try {
            // the context a's fetcher uses for its peers' artifact ports
            HttpClient asNodeA = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
                    .sslContext(ReloadingSslContext.clusterMember(certs.resolve("tls-a"), Duration.ofMinutes(1)).get())
                    .build();
            assertThrows(SSLHandshakeException.class, () -> get(asNodeA, "https://127.0.0.1:"
                    + impostor.getAddress().getPort() + "/v1/artifacts/" + "0".repeat(64)));
            HttpResponse<String> member = get(asNodeA, b.node().artifactUrl().orElseThrow() + "/v1/artifacts/"
                    + "0".repeat(64));
            assertEquals(404, member.statusCode(), "b's artifact port accepts a, and has no such file: " + member.body());
        } finally {
            impostor.stop(0);
        }
    }

    private static Set<String> readyReplicaNodes(TestNode n, String model) throws Exception {
        Set<String> nodes = new HashSet<>();
        for (JsonNode r : cluster(n).get("replicas")) {
            if (r.get("model").asText().equals(model) && r.get("ready").asBoolean()) {
                nodes.add(r.get("node").asText());
            }
        }
        return nodes;
    }

    @Test
    void theCliReachesAnHttpsGatewayWithCaCert() {
        String[] withCa = {"status", "--gateway", a.url(), "--ca-cert", certs.resolve("ca.crt").toString()};
        String[] withoutCa = {"status", "--gateway", a.url()};
        CliRun result = CliRun.of(withCa);
        assertEquals(0, result.code(), result.err());
        assertTrue(result.out().contains("tls-b"), result.out());
        result = CliRun.of(withoutCa);
        assertEquals(1, result.code(), result.err());
        assertTrue(result.err().contains("--ca-cert"), "the error says what to do: " + result.err());
    }


    @Test
    void aReplacedCertificateIsServedToNewConnectionsWithoutARestart() throws Exception {
        BigInteger before = servedSerial(b);
        assertEquals(TestCertificates.serial(certs, "tls-b"), before);

        TestCertificates.generate(certs, "tls-b"); // a new key and certificate from the same CA, in place
        BigInteger after = TestCertificates.serial(certs, "tls-b");
        assertNotEquals(before, after);

        await().atMost(Duration.ofSeconds(15)).until(() -> servedSerial(b).equals(after));
        assertEquals(2, upMembers(a), "the cluster carries on");
        assertEquals(200, get(client, b.url() + "/v2/health/ready").statusCode());
    }

    /** The serial of the certificate the gateway presents to a new connection. */
    private static BigInteger servedSerial(TestNode n) throws Exception {
        URI uri = URI.create(n.url());
        try (SSLSocket socket = (SSLSocket) PemFiles.trusting(certs.resolve("ca.crt")).getSocketFactory()
                .createSocket(uri.getHost(), uri.getPort())) {
            socket.setSoTimeout(10_000);
            socket.startHandshake();
            return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
        }
    }
}
