package io.meshinfer.security.tls;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Accepts a peer, client or server, only if the cluster's CA signed its certificate (the
 * delegate, trusting nothing else, decides) <em>and</em> the certificate shares a subject
 * name (its CN or a DNS subject alternative name) with this node's own certificate: the
 * rule Pekko's {@code RotatingKeysSSLEngineProvider} applies on the cluster transport, so
 * that the channels guarded with it admit exactly the peers the cluster transport admits.
 * Host names are not checked: a node is known by its certificate, not by the address it
 * was reached at (a Kubernetes pod's IP is not in a certificate shared by every pod).
 *
 * <p>Immutable and thread-safe; a rotated certificate comes with a new instance
 * ({@link ReloadingSslContext}).
 */
final class SharedNameTrustManager extends X509ExtendedTrustManager {
    private static final int DNS_NAME = 2;

    private final X509ExtendedTrustManager delegate;
    private final Set<String> ownNames;

    SharedNameTrustManager(X509ExtendedTrustManager delegate, X509Certificate own) {
        this.delegate = delegate;
        this.ownNames = subjectNames(own);
        if (ownNames.isEmpty()) {
            throw new IllegalArgumentException("the node's certificate " + own.getSubjectX500Principal().getName()
                    + " has no CN and no DNS name: peers could not share a name with it");
        }
    }

    /** The CN and DNS subject alternative names of {@code cert}, lower case. */
    static Set<String> subjectNames(X509Certificate cert) {
        Set<String> names = new HashSet<>();
        try {
            for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    names.add(rdn.getValue().toString().toLowerCase(java.util.Locale.ROOT));
                }
            }
        } catch (InvalidNameException e) {
            // an unparsable subject contributes no CN; the SANs may still match
        }
        try {
            if (cert.getSubjectAlternativeNames() != null) {
                for (List<?> san : cert.getSubjectAlternativeNames()) {
                    if (san.size() >= 2 && san.get(0) instanceof Integer type && type == DNS_NAME) {
                        names.add(san.get(1).toString().toLowerCase(java.util.Locale.ROOT));
                    }
                }
            }
        } catch (CertificateParsingException e) {
            // no usable SANs: only the CN counts
        }
        return names;
    }

    private void requireSharedName(X509Certificate[] chain) throws CertificateException {
        Set<String> peer = subjectNames(chain[0]);
        for (String n : peer) {
            if (ownNames.contains(n)) {
                return;
            }
        }
        throw new CertificateException("the peer's certificate " + chain[0].getSubjectX500Principal().getName()
                + " (names " + peer + ") shares no subject name with this node's " + ownNames
                + ": it is not a member of this cluster");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        delegate.checkClientTrusted(chain, authType, socket);
        requireSharedName(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        delegate.checkServerTrusted(chain, authType, socket);
        requireSharedName(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        delegate.checkClientTrusted(chain, authType, engine);
        requireSharedName(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        delegate.checkServerTrusted(chain, authType, engine);
        requireSharedName(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        delegate.checkClientTrusted(chain, authType);
        requireSharedName(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        delegate.checkServerTrusted(chain, authType);
        requireSharedName(chain);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return delegate.getAcceptedIssuers();
    }
}
