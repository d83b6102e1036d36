package io.meshinfer.multijvm;

import static io.meshinfer.multijvm.Scenarios.MODEL;
import static io.meshinfer.multijvm.Scenarios.VERSION;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.models.DemoModel;
import io.meshinfer.security.tls.ReloadingSslContext;
import io.meshinfer.security.tls.TestCertificates;
import java.math.BigInteger;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 6, items 1 and 2: mutual TLS between nodes. Three nodes with certificates from one
 * CA ({@code scripts/gen-certs.sh}) form a cluster over TLS and serve counted load. Two
 * strangers then try to join through the same seeds for a while: one with a certificate
 * from another CA (its log shows the TLS handshake refused), one without TLS at all (its
 * Artery handshake never completes); the three nodes' membership stays exactly the three.
 * The model deployed through one node reaches another over a peer's mutual-TLS artifact
 * port, and every node's HTTP port refuses {@code GET /v1/artifacts/<sha256>} (403).
 * Then one node's key and certificate are replaced in place by new ones from the same CA:
 * within the refresh interval that node presents the new certificate on a new connection
 * to its cluster port (seen by a TLS probe with a cluster certificate), and another node
 * restarted afterwards joins through fresh TLS connections to it. Not one request (sent
 * through n1 and n2 all along) fails.
 */
class TlsScenario {
    private static final Set<String> MEMBERS = Scenarios.setOf("n1", "n2", "n3");

    @RegisterExtension
    final ClusterHarness cluster = new ClusterHarness(TlsScenario.class);

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void mutualTlsKeepsStrangersOutAndCertificatesRotateWithoutARestart() throws Exception {
        ScenarioReport report = cluster.report();
        Path certs = cluster.dir().resolve("certs");
        Path otherCa = cluster.dir().resolve("other-ca");
        TestCertificates.generate(certs, "n1", "n2", "n3", "probe");
        TestCertificates.generate(otherCa, "intruder");
        cluster.systemProperty("meshinfer.security.tls-refresh-interval", "2s");
        for (String n : MEMBERS) {
            cluster.nodeArgs(n, "--tls-dir", certs.resolve(n).toString());
        }

        cluster.startNodes(Scenarios.nodes("n1", "n2", "n3"));
        cluster.awaitConverged(MEMBERS, Duration.ofSeconds(30));
        for (String n : MEMBERS) {
            assertTrue(cluster.logContains(n, "Remoting started with transport [Artery tls-tcp]"), n);
            assertTrue(cluster.logContains(n, "uses mutual TLS"), n);
            assertFalse(cluster.logContains(n, "INSECURE"), n);
        }
        byte[] model = DemoModel.load();
        String sha = io.meshinfer.registry.ArtifactStore.sha256(model);
        cluster.deploy(MODEL, VERSION, model, 2, List.of(), 0);
        cluster.awaitReplicas(MODEL, VERSION, 2, Duration.ofSeconds(60));
        // two replicas on distinct nodes: at least one node lacked the file and fetched it from a
        // peer, over the peer's mutual-TLS artifact port (the HTTP ports refuse artifacts)
        List<String> fetched = MEMBERS.stream().sorted().filter(n -> cluster.logContains(n, "fetched artifact " + sha))
                .toList();
        assertFalse(fetched.isEmpty(), "some node fetched " + sha + " from a peer");
        for (String n : fetched) {
            assertTrue(cluster.logContains(n, "bytes) from https://127.0.0.1:"), n + " fetched over HTTPS");
        }
        for (String n : MEMBERS) {
            NodeHttp.Reply refused = new NodeHttp().get(cluster.httpUrl(n) + "/v1/artifacts/" + sha,
                    Duration.ofSeconds(10));
            assertEquals(403, refused.status(), n + "'s HTTP port refuses artifacts: " + refused.body());
            assertTrue(refused.body().contains("artifact port"), refused.body());
        }
        report.line("%s fetched the model from a peer's artifact port; every HTTP port answers 403 to"
                + " GET /v1/artifacts/<sha256>", fetched);
        // through n1 and n2: n3 is restarted later, and a gateway's own drain is RollingRestartScenario's subject
        LoadDriver load = LoadDriver.builder("load", cluster.gateways("n1", "n2")).ratePerSecond(20).threads(6)
                .readinessProbe(Duration.ofMillis(250)).start();
        Scenarios.awaitSuccesses(load, 50, Duration.ofSeconds(60));

        // strangers: they give up each Artery handshake sooner, so that their logs say so within the test
        cluster.nodeArgs("intruder", "--tls-dir", otherCa.resolve("intruder").toString());
        for (String stranger : List.of("intruder", "plaintext")) {
            cluster.nodeSystemProperty(stranger, "pekko.remote.artery.advanced.handshake-timeout", "5s");
        }
        double strangersAt = load.now();
        cluster.startUnjoined(new ClusterHarness.NodeSpec("intruder", "region-a", "zone-x"), "n1", "n2", "n3");
        cluster.startUnjoined(new ClusterHarness.NodeSpec("plaintext", "region-a", "zone-y"), "n1", "n2", "n3");
        await("a node without --tls-dir warns at start").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(500)).until(() -> cluster.logContains("plaintext", "INSECURE"));
        await("the intruder's handshakes are refused").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(500))
                .until(() -> cluster.logContains("intruder", "SSLHandshakeException"));
        await("the plaintext node's Artery handshakes time out").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(500))
                .until(() -> cluster.logContains("plaintext", "did not complete within"));
        // and while both keep retrying, the cluster stays exactly the three
        await("membership stays " + MEMBERS).during(Duration.ofSeconds(10)).atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(500))
                .until(() -> MEMBERS.stream().allMatch(n -> cluster.view(n).memberNames().equals(MEMBERS)
                        && cluster.view(n).upNames().equals(MEMBERS)));
        for (String stranger : List.of("intruder", "plaintext")) {
            ClusterView seen = cluster.view(stranger);
            assertTrue(seen.memberNames().stream().noneMatch(MEMBERS::contains),
                    stranger + " never saw the members: " + seen.membersLine());
            assertTrue(cluster.logContains(stranger, "Couldn't join seed nodes"), stranger);
            report.line("%s after %.1f s of trying: sees %s", stranger, (load.now() - strangersAt) / 1000,
                    seen.membersLine());
            cluster.kill(stranger);
        }

        // rotation: a new key and certificate for n2, from the same CA, written over the old files
        String n2 = cluster.transportAddress("n2");
        BigInteger before = TestCertificates.serial(certs, "n2");
        assertEquals(before, presentedSerial(certs, n2));
        double rotatedAt = load.now();
        TestCertificates.generate(certs, "n2");
        BigInteger after = TestCertificates.serial(certs, "n2");
        assertNotEquals(before, after);
        await("n2 presents its new certificate").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(500))
                .until(() -> presentedSerial(certs, n2).equals(after));
        report.line("n2's certificate replaced at load +%.1fs (serial %s -> %s): presented on new connections"
                + " %.1f s later, without a restart", rotatedAt / 1000, before.toString(16), after.toString(16),
                (load.now() - rotatedAt) / 1000);

        // a node restarted now connects afresh, and both sides accept the other
        cluster.restart("n3");
        cluster.awaitConverged(MEMBERS, Duration.ofSeconds(30));
        cluster.awaitReplicas(MODEL, VERSION, 2, Duration.ofSeconds(60));
        Scenarios.hold(Duration.ofSeconds(3));
        LoadResult result = load.stop();

        report.load(result);
        assertTrue(result.succeeded() > 0, result.summary());
        assertEquals(0, result.unanswered(), "every request answered: " + result.summary());
        assertEquals(0, result.duplicates(), result.summary());
        assertEquals(List.of(), result.failures(), "no request fails: " + result.summary());
    }

    /**
     * The serial number of the certificate a node presents on a new TLS connection to its
     * cluster port, seen by a client holding a certificate of the cluster's CA ("probe").
     */
    private static BigInteger presentedSerial(Path certs, String hostPort) throws Exception {
        Path probe = certs.resolve("probe");
        var tls = ReloadingSslContext.identity(probe.resolve("tls.key"), probe.resolve("tls.crt"),
                Optional.of(probe.resolve("ca.crt")), Duration.ofMinutes(1)).get();
        int colon = hostPort.lastIndexOf(':');
        try (SSLSocket socket = (SSLSocket) tls.getSocketFactory().createSocket(hostPort.substring(0, colon),
                Integer.parseInt(hostPort.substring(colon + 1)))) {
            socket.setSoTimeout(5_000);
            socket.setEnabledProtocols(new String[] {"TLSv1.3"});
            socket.startHandshake();
            return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
        }
    }
}
