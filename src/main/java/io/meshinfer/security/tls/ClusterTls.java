package io.meshinfer.security.tls;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Mutual TLS between nodes, on Pekko Artery's {@code tls-tcp} transport with Pekko's
 * {@code RotatingKeysSSLEngineProvider}, which reads {@code tls.key}, {@code tls.crt} and
 * {@code ca.crt} from {@code meshinfer.security.tls-dir} and reads them again once its
 * cached context is older than {@code meshinfer.security.tls-refresh-interval}
 * (meshinfer-pekko.conf maps both). Every connection is mutually authenticated: each side
 * presents a certificate signed by the CA, and the provider accepts a peer only if its
 * certificate shares a subject name (CN or DNS name) with its own.
 *
 * <p>HOCON cannot make the transport depend on whether a directory is set, so
 * {@link #transportLayer} does, when the configuration is loaded. {@link #check} reads the
 * files once at start, since Pekko reads them only at the first connection and would
 * otherwise report a missing or wrong file as failed connections.
 */
public final class ClusterTls {
    /** Pekko's transport name for Artery over TLS. */
    public static final String TLS_TRANSPORT = "tls-tcp";
    static final String TRANSPORT_KEY = "pekko.remote.artery.transport";
    static final String DIR_KEY = "meshinfer.security.tls-dir";

    private ClusterTls() {
    }

    /**
     * {@code merged} (all configuration layers, unresolved) with Artery switched to
     * {@code tls-tcp} when {@code meshinfer.security.tls-dir} is set, and that directory
     * made absolute (Pekko reads the files relative to it). Unchanged otherwise, or when
     * the configuration does not resolve (the caller's resolve reports why).
     */
    public static Config transportLayer(Config merged) {
        String dir;
        try {
            dir = merged.resolve().getString(DIR_KEY);
        } catch (ConfigException e) {
            return merged;
        }
        if (dir.isBlank()) {
            return merged;
        }
        return ConfigFactory.parseMap(Map.of(TRANSPORT_KEY, TLS_TRANSPORT,
                DIR_KEY, Path.of(dir).toAbsolutePath().normalize().toString())).withFallback(merged);
    }

    /** Whether the resolved {@code config} runs the cluster transport over TLS. */
    public static boolean enabled(Config config) {
        return config.getString(TRANSPORT_KEY).equals(TLS_TRANSPORT);
    }

    /**
     * What {@link #check} found: the node's certificate, the CA's (the first of ca.crt), how
     * many more certificates ca.crt holds (Pekko 1.2.1 ignores them), and whether the key file
     * can be read by other users.
     */
    public record Material(X509Certificate certificate, X509Certificate ca, int ignoredCas,
                           boolean keyReadableByOthers) {
        public String describe() {
            return "certificate " + certificate.getSubjectX500Principal().getName() + " (serial "
                    + certificate.getSerialNumber().toString(16) + ", valid until " + certificate.getNotAfter()
                    .toInstant() + ") signed by " + ca.getSubjectX500Principal().getName();
        }

        /** Whether the certificate expires within {@code d} from now. */
        public boolean expiresWithin(Duration d) {
            return certificate.getNotAfter().toInstant().isBefore(Instant.now().plus(d));
        }
    }

    /**
     * Reads the key material in {@code dir} as Pekko will and checks that it can work: the
     * three files exist and parse, the key belongs to the certificate, the certificate is
     * valid now and signed by the CA certificate in {@code ca.crt} (the first, the only one
     * Pekko trusts).
     *
     * @throws IllegalStateException saying what is wrong and how to fix it
     */
    public static Material check(Path dir) {
        Path keyFile = dir.resolve(TlsSettings.KEY_FILE);
        Path certFile = dir.resolve(TlsSettings.CERT_FILE);
        Path caFile = dir.resolve(TlsSettings.CA_FILE);
        for (Path f : List.of(keyFile, certFile, caFile)) {
            if (!Files.isReadable(f)) {
                throw new IllegalStateException("--tls-dir " + dir + ": " + f.getFileName() + " is missing or"
                        + " unreadable (expected tls.key, tls.crt and ca.crt, as scripts/gen-certs.sh writes them)");
            }
        }
        try {
            PrivateKey key = PemFiles.privateKey(keyFile);
            X509Certificate cert = PemFiles.certificates(certFile).get(0);
            List<X509Certificate> cas = PemFiles.certificates(caFile);
            cert.checkValidity();
            // Pekko's provider trusts only the first certificate of ca.crt: so does this check
            X509Certificate ca = cas.get(0);
            try {
                cert.verify(ca.getPublicKey());
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("--tls-dir " + dir + ": tls.crt (" + cert.getSubjectX500Principal()
                        .getName() + ") is not signed by the CA in ca.crt (" + ca.getSubjectX500Principal().getName()
                        + "); issue it from the cluster's CA (scripts/gen-certs.sh)");
            }
            if (!keyMatches(key, cert)) {
                throw new IllegalStateException("--tls-dir " + dir + ": tls.key is not the key of tls.crt");
            }
            return new Material(cert, ca, cas.size() - 1, readableByOthers(keyFile));
        } catch (IOException e) {
            throw new IllegalStateException("--tls-dir " + dir + ": " + e.getMessage(), e);
        } catch (java.security.cert.CertificateExpiredException
                 | java.security.cert.CertificateNotYetValidException e) {
            throw new IllegalStateException("--tls-dir " + dir + ": tls.crt is not valid now: " + e.getMessage(), e);
        }
    }

    private static boolean keyMatches(PrivateKey key, X509Certificate cert) {
        String algorithm = key.getAlgorithm().equals("RSA") ? "SHA256withRSA" : "SHA256with" + key.getAlgorithm();
        try {
            byte[] probe = "meshinfer key check".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            Signature s = Signature.getInstance(algorithm);
            s.initSign(key);
            s.update(probe);
            byte[] signature = s.sign();
            Signature v = Signature.getInstance(algorithm);
            v.initVerify(cert.getPublicKey());
            v.update(probe);
            return v.verify(signature);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    /**
     * Whether users other than the node's own can read {@code file}: anyone (others), or a
     * group that is not the process's own primary group. A key readable by the node's own group
     * is what a Kubernetes Secret volume gives a pod with {@code fsGroup} (mode 0440, group =
     * fsGroup = the pod's group), and is no leak.
     */
    private static boolean readableByOthers(Path file) {
        try {
            Set<PosixFilePermission> p = Files.getPosixFilePermissions(file);
            if (p.contains(PosixFilePermission.OTHERS_READ)) {
                return true;
            }
            if (!p.contains(PosixFilePermission.GROUP_READ)) {
                return false;
            }
            Object gid = Files.getAttribute(file, "unix:gid");
            return !(gid instanceof Integer g && g.longValue() == new com.sun.security.auth.module.UnixSystem().getGid());
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException | SecurityException
                 | LinkageError e) {
            return false;
        }
    }
}
