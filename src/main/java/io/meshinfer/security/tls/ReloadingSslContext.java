package io.meshinfer.security.tls;

import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A TLS context built from PEM files and built again from them once it is older than the
 * refresh interval, so that replaced files (a rotated certificate) are used by the next
 * connections without a restart, as Pekko's rotating-keys provider does for the cluster
 * transport. If the files cannot be read at a refresh (half-written, deleted), the
 * previous context stays in use for another interval and a WARN says why; only the first
 * load fails the caller.
 *
 * <p>Thread-safe. {@link #get} reads the files (a few KB) on the calling thread at most once
 * per interval, so it may be called where a connection is set up.
 */
public final class ReloadingSslContext {
    private static final Logger log = LoggerFactory.getLogger(ReloadingSslContext.class);

    private record Loaded(SSLContext context, long loadedAtNanos) {
    }

    private final Optional<Path> keyFile;
    private final Optional<Path> certFile;
    private final Optional<Path> caFile;
    private final long refreshNanos;
    private final boolean clusterMember;
    private volatile Loaded loaded;

    private ReloadingSslContext(Optional<Path> keyFile, Optional<Path> certFile, Optional<Path> caFile,
                                Duration refresh) {
        this(keyFile, certFile, caFile, refresh, false);
    }

    private ReloadingSslContext(Optional<Path> keyFile, Optional<Path> certFile, Optional<Path> caFile,
                                Duration refresh, boolean clusterMember) {
        this.keyFile = keyFile;
        this.certFile = certFile;
        this.caFile = caFile;
        this.refreshNanos = refresh.toNanos();
        this.clusterMember = clusterMember;
    }

    /**
     * A context presenting the key and certificate in {@code keyFile}, {@code certFile}
     * (e.g. a server's), and trusting the CAs in {@code caFile} if given.
     *
     * @throws IOException if the files cannot be read now
     */
    public static ReloadingSslContext identity(Path keyFile, Path certFile, Optional<Path> caFile, Duration refresh)
            throws IOException {
        ReloadingSslContext c = new ReloadingSslContext(Optional.of(keyFile), Optional.of(certFile), caFile, refresh);
        c.loaded = c.load();
        return c;
    }

    /**
     * A context for channels between cluster members, from a TLS directory as
     * {@code scripts/gen-certs.sh} writes it: it presents {@code tls.key} and {@code tls.crt}
     * and accepts a peer (client or server) only as Pekko's cluster transport does, with a
     * certificate signed by the first CA of {@code ca.crt} that shares a subject name with
     * {@code tls.crt} (no host name check). Used on both ends of the artifact port.
     *
     * @throws IOException if the files cannot be read now
     */
    public static ReloadingSslContext clusterMember(Path tlsDir, Duration refresh) throws IOException {
        ReloadingSslContext c = new ReloadingSslContext(Optional.of(tlsDir.resolve(TlsSettings.KEY_FILE)),
                Optional.of(tlsDir.resolve(TlsSettings.CERT_FILE)), Optional.of(tlsDir.resolve(TlsSettings.CA_FILE)),
                refresh, true);
        c.loaded = c.load();
        return c;
    }

    /**
     * A context trusting only the CAs in {@code caFile} (e.g. a client of cluster peers).
     *
     * @throws IOException if the file cannot be read now
     */
    public static ReloadingSslContext trusting(Path caFile, Duration refresh) throws IOException {
        ReloadingSslContext c = new ReloadingSslContext(Optional.empty(), Optional.empty(), Optional.of(caFile),
                refresh);
        c.loaded = c.load();
        return c;
    }

    /** The current context, read again from the files first when it is older than the refresh interval. */
    public SSLContext get() {
        Loaded l = loaded;
        if (System.nanoTime() - l.loadedAtNanos() < refreshNanos) {
            return l.context();
        }
        synchronized (this) {
            l = loaded;
            if (System.nanoTime() - l.loadedAtNanos() < refreshNanos) {
                return l.context();
            }
            try {
                loaded = load();
            } catch (IOException e) {
                log.warn("cannot read the TLS files again, keeping the previous ones for another interval: {}",
                        e.getMessage());
                loaded = new Loaded(l.context(), System.nanoTime());
            }
            return loaded.context();
        }
    }

    private Loaded load() throws IOException {
        try {
            PrivateKey key = keyFile.isPresent() ? PemFiles.privateKey(keyFile.get()) : null;
            List<X509Certificate> chain = certFile.isPresent() ? PemFiles.certificates(certFile.get()) : List.of();
            List<X509Certificate> cas = caFile.isPresent() ? PemFiles.certificates(caFile.get()) : List.of();
            return new Loaded(clusterMember ? PemFiles.clusterMember(key, chain, cas)
                    : PemFiles.context(key, chain, cas), System.nanoTime());
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new IOException("cannot build a TLS context from " + describe() + ": " + e.getMessage(), e);
        }
    }

    private String describe() {
        StringBuilder b = new StringBuilder();
        keyFile.ifPresent(f -> b.append(f).append(' '));
        certFile.ifPresent(f -> b.append(f).append(' '));
        caFile.ifPresent(f -> b.append(f));
        return b.toString().trim();
    }
}
