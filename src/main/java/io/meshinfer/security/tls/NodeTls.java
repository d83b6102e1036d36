package io.meshinfer.security.tls;

import com.typesafe.config.Config;
import java.io.IOException;
import java.time.Duration;
import java.util.Optional;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import org.apache.pekko.http.javadsl.ConnectionContext;
import org.apache.pekko.http.javadsl.HttpsConnectionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's transport security, built once at start from its configuration: mutual TLS
 * between nodes (checked here, run by Pekko), the gateway's HTTPS context, and the
 * client context with which the node fetches from peers that serve HTTPS.
 *
 * <p>Both HTTPS contexts build each connection's engine from a {@link ReloadingSslContext},
 * so a rotated key, certificate or CA file is used by new connections within the refresh
 * interval, as for the cluster transport. The peer client trusts only the cluster's CA
 * ({@code ca.crt} of the TLS directory, or {@code meshinfer.http.tls.ca-cert-file}) and
 * verifies that the peer's certificate names the host in its URL.
 *
 * <p>With mutual TLS between nodes there are two more contexts, for the artifact port
 * (model files go only to cluster members): a server context that requires a client
 * certificate and a client context that presents the node's own, both built from the TLS
 * directory with {@link ReloadingSslContext#clusterMember}, so each end admits exactly the
 * peers the cluster transport admits.
 */
public final class NodeTls {
    private static final Logger log = LoggerFactory.getLogger(NodeTls.class);

    private final TlsSettings settings;
    private final Optional<ClusterTls.Material> clusterMaterial;
    private final Optional<HttpsConnectionContext> gateway;
    private final Optional<HttpsConnectionContext> peerClient;
    private final Optional<HttpsConnectionContext> artifactServer;
    private final Optional<HttpsConnectionContext> artifactClient;

    private NodeTls(TlsSettings settings, Optional<ClusterTls.Material> clusterMaterial,
                    Optional<HttpsConnectionContext> gateway, Optional<HttpsConnectionContext> peerClient,
                    Optional<HttpsConnectionContext> artifactServer, Optional<HttpsConnectionContext> artifactClient) {
        this.settings = settings;
        this.clusterMaterial = clusterMaterial;
        this.gateway = gateway;
        this.peerClient = peerClient;
        this.artifactServer = artifactServer;
        this.artifactClient = artifactClient;
    }

    /**
     * Reads and checks every file the settings name.
     *
     * @param config the node's resolved configuration, loaded through {@code MeshConfig}
     * @throws IllegalStateException when a file is missing or wrong, or a TLS directory is
     *                               set but the transport is not TLS (the configuration was
     *                               not loaded through {@code MeshConfig})
     */
    public static NodeTls fromConfig(Config config) {
        TlsSettings s;
        try {
            s = TlsSettings.fromConfig(config);
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
        if (s.clusterTls() && !ClusterTls.enabled(config)) {
            throw new IllegalStateException("meshinfer.security.tls-dir is set but pekko.remote.artery.transport is "
                    + config.getString("pekko.remote.artery.transport") + ", not " + ClusterTls.TLS_TRANSPORT
                    + ": load the configuration with io.meshinfer.node.MeshConfig");
        }
        Optional<ClusterTls.Material> material = s.clusterDir().map(ClusterTls::check);
        try {
            Optional<HttpsConnectionContext> gateway = Optional.empty();
            if (s.https()) {
                ReloadingSslContext identity = ReloadingSslContext.identity(s.httpKeyFile().orElseThrow(),
                        s.httpCertFile().orElseThrow(), Optional.empty(), s.refresh());
                gateway = Optional.of(ConnectionContext.httpsServer(() -> {
                    SSLEngine engine = identity.get().createSSLEngine();
                    engine.setUseClientMode(false);
                    return engine;
                }));
            }
            Optional<HttpsConnectionContext> peerClient = Optional.empty();
            if (s.caCertFile().isPresent()) {
                peerClient = Optional.of(client(ReloadingSslContext.trusting(s.caCertFile().get(), s.refresh())));
            }
            Optional<HttpsConnectionContext> artifactServer = Optional.empty();
            Optional<HttpsConnectionContext> artifactClient = Optional.empty();
            if (s.clusterDir().isPresent()) {
                ReloadingSslContext member = ReloadingSslContext.clusterMember(s.clusterDir().get(), s.refresh());
                artifactServer = Optional.of(memberServer(member));
                artifactClient = Optional.of(memberClient(member));
            }
            return new NodeTls(s, material, gateway, peerClient, artifactServer, artifactClient);
        } catch (IOException e) {
            throw new IllegalStateException("HTTPS: " + e.getMessage(), e);
        }
    }

    /** A client context trusting what {@code trust} trusts, verifying the host name of each peer. */
    static HttpsConnectionContext client(ReloadingSslContext trust) {
        return ConnectionContext.httpsClient((host, port) -> {
            SSLEngine engine = trust.get().createSSLEngine(host, port);
            engine.setUseClientMode(true);
            SSLParameters params = engine.getSSLParameters();
            params.setEndpointIdentificationAlgorithm("HTTPS");
            engine.setSSLParameters(params);
            return engine;
        });
    }

    /**
     * A server context that completes a handshake only with a client presenting a cluster
     * member's certificate (mutual TLS, TLS 1.3 only: both ends are meshinfer nodes).
     */
    public static HttpsConnectionContext memberServer(ReloadingSslContext member) {
        return ConnectionContext.httpsServer(() -> {
            SSLEngine engine = member.get().createSSLEngine();
            engine.setUseClientMode(false);
            engine.setNeedClientAuth(true);
            engine.setEnabledProtocols(new String[] {"TLSv1.3"});
            return engine;
        });
    }

    /**
     * A client context that presents this node's certificate and accepts only a server with a
     * cluster member's certificate; the host name is not checked (see
     * {@link ReloadingSslContext#clusterMember}).
     */
    public static HttpsConnectionContext memberClient(ReloadingSslContext member) {
        return ConnectionContext.httpsClient((host, port) -> {
            SSLEngine engine = member.get().createSSLEngine(host, port);
            engine.setUseClientMode(true);
            engine.setEnabledProtocols(new String[] {"TLSv1.3"});
            return engine;
        });
    }

    public TlsSettings settings() {
        return settings;
    }

    /** Whether the gateway serves HTTPS. */
    public boolean https() {
        return settings.https();
    }

    /** {@code https} or {@code http}: the scheme of this node's gateway URL. */
    public String scheme() {
        return settings.https() ? "https" : "http";
    }

    /** The gateway's server context, when it serves HTTPS. */
    public Optional<HttpsConnectionContext> gatewayContext() {
        return gateway;
    }

    /** The context for fetching from HTTPS peers, when a cluster CA is configured (else the JVM's default). */
    public Optional<HttpsConnectionContext> peerClientContext() {
        return peerClient;
    }

    /**
     * The artifact port's server context (client certificates required), when the cluster
     * runs over mutual TLS; empty: artifacts are served on the gateway, to anyone.
     */
    public Optional<HttpsConnectionContext> artifactServerContext() {
        return artifactServer;
    }

    /**
     * How this node fetches artifacts from peers: with its own certificate from their artifact
     * ports under mutual TLS; else from their gateways, trusting the configured CA for HTTPS
     * ones (empty: the JVM's defaults).
     */
    public Optional<HttpsConnectionContext> artifactFetchContext() {
        return artifactClient.or(() -> peerClient);
    }

    /**
     * Logs what protects this node's traffic: the certificate in use, or a WARN that says
     * the cluster transport is open to anyone who can reach it.
     */
    public void logStatus(String nodeName, int clusterPort) {
        if (clusterMaterial.isPresent()) {
            ClusterTls.Material m = clusterMaterial.get();
            log.info("node {}: cluster transport on port {} uses mutual TLS; {}; key files in {} re-read every {}",
                    nodeName, clusterPort, m.describe(), settings.clusterDir().orElseThrow(),
                    settings.refresh().toMillis() % 1000 == 0 ? settings.refresh().toSeconds() + " s"
                            : settings.refresh().toMillis() + " ms");
            if (m.keyReadableByOthers()) {
                log.warn("node {}: {} can be read by other users: chmod 600 it", nodeName,
                        settings.clusterDir().orElseThrow().resolve(TlsSettings.KEY_FILE));
            }
            if (m.ignoredCas() > 0) {
                log.warn("node {}: {} holds {} more CA certificate(s) after the first; the cluster transport (Pekko)"
                        + " trusts only the first", nodeName, settings.clusterDir().orElseThrow()
                        .resolve(TlsSettings.CA_FILE), m.ignoredCas());
            }
            if (m.expiresWithin(Duration.ofDays(14))) {
                log.warn("node {}: its certificate expires on {}: issue a new one (scripts/gen-certs.sh) and replace"
                        + " the files; running nodes pick them up", nodeName, m.certificate().getNotAfter().toInstant());
            }
        } else {
            log.warn("INSECURE: node {}: inter-node traffic on port {} is UNENCRYPTED and UNAUTHENTICATED: any process"
                    + " that can reach that port can join the cluster, read requests and models, and send commands;"
                    + " and every deployed model file can be downloaded by anyone who can reach the HTTP port"
                    + " (GET /v1/artifacts/<sha256>, no credentials). Fine for a local trial on one machine; anywhere"
                    + " else give every node --tls-dir (keys from scripts/gen-certs.sh) for mutual TLS, which also"
                    + " moves model files to a port only cluster members can use.", nodeName, clusterPort);
        }
        if (settings.https()) {
            log.info("node {}: gateway serves HTTPS with {}", nodeName, settings.httpCertFile().orElseThrow());
        }
    }
}
