package io.meshinfer.security.tls;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The artifact port's trust rule, the cluster transport's: a peer's certificate must chain to
 * the cluster's CA and share a subject name (CN or DNS name) with the node's own. A
 * gen-certs.sh certificate of the same CA passes; one of another CA, or one of the same CA
 * that shares no name, is refused whichever side presents it.
 */
class SharedNameTrustManagerTest {

    private static X509Certificate cert(Path dir, String node) throws IOException {
        return PemFiles.certificates(dir.resolve(node).resolve(TlsSettings.CERT_FILE)).get(0);
    }

    private static X509ExtendedTrustManager caOnly(X509Certificate ca) throws Exception {
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        ts.setCertificateEntry("ca", ca);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);
        return (X509ExtendedTrustManager) tmf.getTrustManagers()[0];
    }

    /** A certificate from the CA in {@code dir} naming only {@code CN=<cn>}: no DNS names at all. */
    private static X509Certificate bareCertificate(Path dir, String cn) throws Exception {
        Path key = dir.resolve(cn + ".key");
        Path csr = dir.resolve(cn + ".csr");
        Path crt = dir.resolve(cn + ".crt");
        run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key.toString());
        run("openssl", "req", "-new", "-key", key.toString(), "-subj", "/O=meshinfer/CN=" + cn, "-out", csr.toString());
        run("openssl", "x509", "-req", "-in", csr.toString(), "-CA", dir.resolve("ca.crt").toString(), "-CAkey",
                dir.resolve("ca.key").toString(), "-CAcreateserial", "-days", "2", "-out", crt.toString());
        return PemFiles.certificates(crt).get(0);
    }

    private static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), String.join(" ", cmd));
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out);
    }

    @Test
    void acceptsOnlyCertificatesOfTheClusterCaSharingASubjectName(@TempDir Path tmp) throws Exception {
        Path certs = tmp.resolve("certs");
        Path other = tmp.resolve("other");
        TestCertificates.generate(certs, "n1", "n2");
        TestCertificates.generate(other, "intruder");
        X509Certificate ca = PemFiles.certificates(certs.resolve("ca.crt")).get(0);
        X509Certificate n1 = cert(certs, "n1");
        assertTrue(SharedNameTrustManager.subjectNames(n1).containsAll(Set.of("n1", "meshinfer")),
                SharedNameTrustManager.subjectNames(n1).toString());

        SharedNameTrustManager trust = new SharedNameTrustManager(caOnly(ca), n1);
        X509Certificate[] member = {cert(certs, "n2")};
        assertDoesNotThrow(() -> trust.checkClientTrusted(member, "RSA"));
        assertDoesNotThrow(() -> trust.checkServerTrusted(member, "RSA"));

        X509Certificate[] intruder = {cert(other, "intruder")};
        assertThrows(CertificateException.class, () -> trust.checkClientTrusted(intruder, "RSA"));
        assertThrows(CertificateException.class, () -> trust.checkServerTrusted(intruder, "RSA"));

        // signed by the cluster's CA, but naming nothing the node's certificate names
        X509Certificate[] stranger = {bareCertificate(certs, "stranger")};
        CertificateException refused = assertThrows(CertificateException.class,
                () -> trust.checkClientTrusted(stranger, "RSA"));
        assertTrue(refused.getMessage().contains("shares no subject name"), refused.getMessage());
        assertThrows(CertificateException.class, () -> trust.checkServerTrusted(stranger, "RSA"));
        assertEquals(List.of(ca), List.of(trust.getAcceptedIssuers()));
    }

    @Test
    void oneCaSigningTwoClustersKeepsThemApart(@TempDir Path tmp) throws Exception {
        Path certs = tmp.resolve("certs");
        TestCertificates.generate(certs, "n1");
        TestCertificates.generateForCluster("billing", certs, "b1"); // the same CA, reused
        X509Certificate ca = PemFiles.certificates(certs.resolve("ca.crt")).get(0);
        X509Certificate n1 = cert(certs, "n1");
        assertEquals(Set.of("n1", "meshinfer"), SharedNameTrustManager.subjectNames(n1),
                "a node's own name and its cluster's, nothing every certificate carries");

        SharedNameTrustManager trust = new SharedNameTrustManager(caOnly(ca), n1);
        X509Certificate[] otherCluster = {cert(certs, "b1")};
        CertificateException refused = assertThrows(CertificateException.class,
                () -> trust.checkClientTrusted(otherCluster, "RSA"));
        assertTrue(refused.getMessage().contains("shares no subject name"), refused.getMessage());
        assertThrows(CertificateException.class, () -> trust.checkServerTrusted(otherCluster, "RSA"));
    }
}
