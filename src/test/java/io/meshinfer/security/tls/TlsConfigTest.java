package io.meshinfer.security.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.meshinfer.node.MeshConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import javax.net.ssl.SSLEngine;
import org.apache.pekko.event.NoMarkerLogging;
import org.apache.pekko.remote.artery.tcp.ssl.RotatingKeysSSLEngineProvider;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How the TLS settings reach Pekko and the gateway: a TLS directory switches Artery to
 * mutual TLS with Pekko's rotating-keys provider reading that directory, HTTPS takes its
 * files from it unless named, and key material that cannot work is refused at start with
 * a message that says why.
 */
class TlsConfigTest {
    @TempDir
    static Path certs;

    @BeforeAll
    static void makeCertificates() {
        TestCertificates.generate(certs.resolve("cluster"), "n1", "n2");
        TestCertificates.generate(certs.resolve("other"), "x1");
    }

    private static Config load(Map<String, Object> overrides) {
        return MeshConfig.load(ConfigFactory.parseMap(overrides)).resolve();
    }

    @Test
    void withoutATlsDirectoryTheTransportStaysPlainTcp() {
        Config c = load(Map.of());
        assertEquals("tcp", c.getString("pekko.remote.artery.transport"));
        assertFalse(ClusterTls.enabled(c));
        TlsSettings s = TlsSettings.fromConfig(c);
        assertFalse(s.clusterTls());
        assertFalse(s.https());
        assertEquals(Optional.empty(), s.caCertFile());
    }

    @Test
    void aTlsDirectorySwitchesArteryToMutualTlsReadingThatDirectory() {
        Path dir = certs.resolve("cluster").resolve("n1");
        Config c = load(Map.of("meshinfer.security.tls-dir", dir.toString(),
                "meshinfer.security.tls-refresh-interval", "7s"));
        assertEquals("tls-tcp", c.getString("pekko.remote.artery.transport"));
        assertEquals(RotatingKeysSSLEngineProvider.class.getName(),
                c.getString("pekko.remote.artery.ssl.ssl-engine-provider"));
        Config engine = c.getConfig("pekko.remote.artery.ssl.rotating-keys-engine");
        assertEquals(dir.resolve("tls.key").toString(), engine.getString("key-file"));
        assertEquals(dir.resolve("tls.crt").toString(), engine.getString("cert-file"));
        assertEquals(dir.resolve("ca.crt").toString(), engine.getString("ca-cert-file"));
        assertEquals(Duration.ofSeconds(7), engine.getDuration("ssl-context-cache-ttl"));
        TlsSettings s = TlsSettings.fromConfig(c);
        assertTrue(s.clusterTls());
        assertEquals(Optional.of(dir.resolve("ca.crt")), s.caCertFile());
    }

    @Test
    void aRelativeTlsDirectoryIsMadeAbsoluteForPekko() {
        Config c = load(Map.of("meshinfer.security.tls-dir", "some/relative/dir"));
        Path expected = Path.of("some/relative/dir").toAbsolutePath().normalize();
        assertEquals(expected.toString(), c.getString("meshinfer.security.tls-dir"));
        assertEquals(expected.resolve("tls.key").toString(),
                c.getString("pekko.remote.artery.ssl.rotating-keys-engine.key-file"));
    }

    @Test
    void pekkosProviderReadsTheGeneratedFilesAndRequiresClientCertificates() {
        Config c = load(Map.of("meshinfer.security.tls-dir", certs.resolve("cluster").resolve("n1").toString()));
        RotatingKeysSSLEngineProvider provider = new RotatingKeysSSLEngineProvider(
                c.getConfig("pekko.remote.artery.ssl.rotating-keys-engine"), NoMarkerLogging.getInstance());
        SSLEngine server = provider.createServerSSLEngine("127.0.0.1", 25520);
        assertTrue(server.getNeedClientAuth(), "mutual authentication");
        assertFalse(server.getUseClientMode());
    }

    @Test
    void httpsTakesItsFilesFromTheTlsDirectoryUnlessNamed() {
        Path dir = certs.resolve("cluster").resolve("n1");
        TlsSettings fromDir = TlsSettings.fromConfig(load(Map.of("meshinfer.security.tls-dir", dir.toString(),
                "meshinfer.http.tls.enabled", true)));
        assertTrue(fromDir.https());
        assertEquals(Optional.of(dir.resolve("tls.key")), fromDir.httpKeyFile());
        assertEquals(Optional.of(dir.resolve("tls.crt")), fromDir.httpCertFile());

        Path other = certs.resolve("other").resolve("x1");
        TlsSettings explicit = TlsSettings.fromConfig(load(Map.of("meshinfer.security.tls-dir", dir.toString(),
                "meshinfer.http.tls.enabled", true,
                "meshinfer.http.tls.key-file", other.resolve("tls.key").toString(),
                "meshinfer.http.tls.cert-file", other.resolve("tls.crt").toString(),
                "meshinfer.http.tls.ca-cert-file", other.resolve("ca.crt").toString())));
        assertEquals(Optional.of(other.resolve("tls.key")), explicit.httpKeyFile());
        assertEquals(Optional.of(other.resolve("tls.crt")), explicit.httpCertFile());
        assertEquals(Optional.of(other.resolve("ca.crt")), explicit.caCertFile());
    }

    @Test
    void httpsWithoutKeyMaterialIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TlsSettings.fromConfig(load(Map.of("meshinfer.http.tls.enabled", true))));
        assertTrue(e.getMessage().contains("--tls-dir"), e.getMessage());
    }

    @Test
    void aTlsDirectoryIsRefusedWhenTheConfigurationBypassedMeshConfig() {
        Config bypassed = ConfigFactory.parseMap(Map.of("meshinfer.security.tls-dir",
                        certs.resolve("cluster").resolve("n1").toString()))
                .withFallback(ConfigFactory.load()).resolve();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> NodeTls.fromConfig(bypassed));
        assertTrue(e.getMessage().contains("MeshConfig"), e.getMessage());
    }

    @Test
    void keyMaterialThatCannotWorkIsRefusedWithTheReason() throws Exception {
        Path good = certs.resolve("cluster").resolve("n1");
        ClusterTls.Material m = ClusterTls.check(good);
        assertEquals(TestCertificates.serial(certs.resolve("cluster"), "n1"), m.certificate().getSerialNumber());
        assertFalse(m.keyReadableByOthers(), "gen-certs.sh writes the key private");

        Path empty = Files.createDirectories(certs.resolve("empty"));
        assertTrue(message(empty).contains("tls.key is missing"), message(empty));

        Path foreign = Files.createDirectories(certs.resolve("foreign"));
        copy(certs.resolve("other").resolve("x1"), foreign, "tls.key", "tls.crt");
        copy(good, foreign, "ca.crt");
        assertTrue(message(foreign).contains("is not signed by the CA in ca.crt"), message(foreign));

        Path mismatched = Files.createDirectories(certs.resolve("mismatched"));
        copy(good, mismatched, "tls.crt", "ca.crt");
        copy(certs.resolve("cluster").resolve("n2"), mismatched, "tls.key");
        assertTrue(message(mismatched).contains("tls.key is not the key of tls.crt"), message(mismatched));

        Path garbled = Files.createDirectories(certs.resolve("garbled"));
        copy(good, garbled, "tls.crt", "ca.crt");
        Files.writeString(garbled.resolve("tls.key"), "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
        assertTrue(message(garbled).contains("is not a PEM private key"), message(garbled));
    }

    @Test
    void onlyTheFirstCertificateOfCaCrtCountsAsPekkoTrustsOnlyThatOne() throws Exception {
        Path good = certs.resolve("cluster").resolve("n1");
        String clusterCa = Files.readString(good.resolve("ca.crt"));
        String otherCa = Files.readString(certs.resolve("other").resolve("ca.crt"));

        Path clusterFirst = Files.createDirectories(certs.resolve("cluster-first"));
        copy(good, clusterFirst, "tls.key", "tls.crt");
        Files.writeString(clusterFirst.resolve("ca.crt"), clusterCa + otherCa);
        assertEquals(1, ClusterTls.check(clusterFirst).ignoredCas());

        Path otherFirst = Files.createDirectories(certs.resolve("other-first"));
        copy(good, otherFirst, "tls.key", "tls.crt");
        Files.writeString(otherFirst.resolve("ca.crt"), otherCa + clusterCa);
        assertTrue(message(otherFirst).contains("is not signed by the CA in ca.crt"), message(otherFirst));
    }

    private static String message(Path dir) {
        return assertThrows(IllegalStateException.class, () -> ClusterTls.check(dir)).getMessage();
    }

    private static void copy(Path from, Path to, String... names) throws Exception {
        for (String n : names) {
            Files.copy(from.resolve(n), to.resolve(n), StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
