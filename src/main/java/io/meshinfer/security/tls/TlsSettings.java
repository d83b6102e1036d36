package io.meshinfer.security.tls;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * Transport security settings, read once from {@code meshinfer.security} and
 * {@code meshinfer.http.tls}: the directory of this node's key material for mutual TLS
 * between nodes, how often key files are read again, and whether (with which PEM files)
 * the gateway serves HTTPS. Explicit HTTP files win over the ones in the TLS directory.
 *
 * @param clusterDir    {@code tls.key}, {@code tls.crt}, {@code ca.crt} for mutual TLS between nodes; empty: off
 * @param refresh       how long files read are used before they are read again
 * @param https         whether the gateway serves HTTPS
 * @param httpKeyFile   the gateway's private key (PEM)
 * @param httpCertFile  the gateway's certificate (PEM)
 * @param caCertFile    the CA whose certificates this node trusts when it fetches from HTTPS peers
 */
public record TlsSettings(Optional<Path> clusterDir, Duration refresh, boolean https, Optional<Path> httpKeyFile,
                          Optional<Path> httpCertFile, Optional<Path> caCertFile) {

    public static final String KEY_FILE = "tls.key";
    public static final String CERT_FILE = "tls.crt";
    public static final String CA_FILE = "ca.crt";

    /**
     * @throws IllegalArgumentException when HTTPS is on but no key or certificate is named
     *                                  (neither explicitly nor through the TLS directory)
     */
    public static TlsSettings fromConfig(Config root) {
        Config s = root.getConfig("meshinfer.security");
        Config h = root.getConfig("meshinfer.http.tls");
        Optional<Path> dir = path(s.getString("tls-dir"));
        Duration refresh = s.getDuration("tls-refresh-interval");
        if (refresh.isNegative() || refresh.isZero()) {
            throw new IllegalArgumentException("meshinfer.security.tls-refresh-interval must be positive, not "
                    + s.getString("tls-refresh-interval"));
        }
        Optional<Path> key = path(h.getString("key-file")).or(() -> dir.map(d -> d.resolve(KEY_FILE)));
        Optional<Path> cert = path(h.getString("cert-file")).or(() -> dir.map(d -> d.resolve(CERT_FILE)));
        Optional<Path> ca = path(h.getString("ca-cert-file")).or(() -> dir.map(d -> d.resolve(CA_FILE)));
        boolean https = h.getBoolean("enabled");
        if (https && (key.isEmpty() || cert.isEmpty())) {
            throw new IllegalArgumentException("HTTPS (--https, meshinfer.http.tls.enabled) needs a key and a"
                    + " certificate: give --tls-dir DIR (DIR/tls.key, DIR/tls.crt), or set meshinfer.http.tls.key-file"
                    + " and meshinfer.http.tls.cert-file");
        }
        return new TlsSettings(dir, refresh, https, key, cert, ca);
    }

    /** Whether the cluster transport runs over mutual TLS. */
    public boolean clusterTls() {
        return clusterDir.isPresent();
    }

    private static Optional<Path> path(String value) {
        return value.isBlank() ? Optional.empty() : Optional.of(Path.of(value).toAbsolutePath().normalize());
    }
}
