package io.meshinfer.security.tls;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.apache.pekko.pki.pem.DERPrivateKeyLoader;
import org.apache.pekko.pki.pem.PEMDecoder;

/**
 * Reads PEM keys and certificates and builds TLS contexts from them. Private keys are read
 * with Pekko's own PEM loader (pekko-pki), so a key this class accepts is one Artery's TLS
 * accepts too: RSA, in PKCS#1 or unencrypted PKCS#8 form. Errors name the file.
 */
public final class PemFiles {
    private static final char[] IN_MEMORY_PASSWORD = "meshinfer".toCharArray();

    private PemFiles() {
    }

    public static PrivateKey privateKey(Path file) throws IOException {
        String pem = Files.readString(file, StandardCharsets.US_ASCII);
        try {
            return DERPrivateKeyLoader.load(PEMDecoder.decode(pem));
        } catch (Exception e) {
            // PEMLoadingException, and (undeclared, from Scala) the JDK's key spec exceptions
            throw new IOException(file + " is not a PEM private key Pekko can read (RSA, PKCS#1 or unencrypted"
                    + " PKCS#8): " + e.getMessage(), e);
        }
    }

    /** Every certificate in {@code file} (a CA file may hold several, e.g. the old and the new CA during a change). */
    public static List<X509Certificate> certificates(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            List<X509Certificate> certs = new ArrayList<>();
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                certs.add((X509Certificate) c);
            }
            if (certs.isEmpty()) {
                throw new IOException(file + " holds no PEM certificate");
            }
            return certs;
        } catch (CertificateException e) {
            throw new IOException(file + " is not a PEM certificate: " + e.getMessage(), e);
        }
    }

    /** A TLS context presenting {@code key} with {@code chain} and trusting nothing but the JVM defaults. */
    public static SSLContext identity(PrivateKey key, List<X509Certificate> chain) throws GeneralSecurityException {
        return context(key, chain, List.of());
    }

    /** A TLS context trusting only {@code cas} (and presenting no certificate of its own). */
    public static SSLContext trusting(List<X509Certificate> cas) throws GeneralSecurityException {
        return context(null, List.of(), cas);
    }

    /** A TLS context trusting only the CA certificates in {@code caFile} (the CLI's {@code --ca-cert}). */
    public static SSLContext trusting(Path caFile) throws IOException, GeneralSecurityException {
        return trusting(certificates(caFile));
    }

    /**
     * A context for a channel only cluster members may use: presenting {@code key} with
     * {@code chain}, and accepting a peer (client or server) only with a certificate signed by
     * the first CA of {@code cas}, the only one Pekko's cluster transport trusts, that shares a
     * subject name with {@code chain}'s first certificate ({@link SharedNameTrustManager}).
     */
    static SSLContext clusterMember(PrivateKey key, List<X509Certificate> chain, List<X509Certificate> cas)
            throws GeneralSecurityException {
        KeyManagerFactory kmf = keyManagers(key, chain);
        TrustManagerFactory tmf = trustManagers(cas.subList(0, 1));
        javax.net.ssl.X509ExtendedTrustManager caOnly = null;
        for (javax.net.ssl.TrustManager tm : tmf.getTrustManagers()) {
            if (tm instanceof javax.net.ssl.X509ExtendedTrustManager x) {
                caOnly = x;
            }
        }
        if (caOnly == null) {
            throw new GeneralSecurityException("the JVM's trust manager factory offers no X509ExtendedTrustManager");
        }
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), new javax.net.ssl.TrustManager[] {
            new SharedNameTrustManager(caOnly, chain.get(0))}, null);
        return ctx;
    }

    /**
     * @param key   the key to present, or null for none
     * @param chain its certificate chain (the key's own certificate first)
     * @param cas   the CAs to trust; empty: the JVM's default trust store
     */
    static SSLContext context(PrivateKey key, List<X509Certificate> chain, List<X509Certificate> cas)
            throws GeneralSecurityException {
        KeyManagerFactory kmf = key == null ? null : keyManagers(key, chain);
        TrustManagerFactory tmf = cas.isEmpty() ? null : trustManagers(cas);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf == null ? null : tmf.getTrustManagers(), null);
        return ctx;
    }

    private static KeyManagerFactory keyManagers(PrivateKey key, List<X509Certificate> chain)
            throws GeneralSecurityException {
        KeyStore ks = emptyStore();
        ks.setKeyEntry("key", key, IN_MEMORY_PASSWORD, chain.toArray(new Certificate[0]));
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, IN_MEMORY_PASSWORD);
        return kmf;
    }

    private static TrustManagerFactory trustManagers(List<X509Certificate> cas) throws GeneralSecurityException {
        KeyStore ts = emptyStore();
        for (int i = 0; i < cas.size(); i++) {
            ts.setCertificateEntry("ca-" + i, cas.get(i));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);
        return tmf;
    }

    private static KeyStore emptyStore() throws GeneralSecurityException {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try {
            ks.load(null, null);
        } catch (IOException e) {
            throw new GeneralSecurityException("cannot create an in-memory key store", e);
        }
        return ks;
    }
}
