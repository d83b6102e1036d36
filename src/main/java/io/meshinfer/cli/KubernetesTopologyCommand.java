package io.meshinfer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigValueFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.concurrent.Callable;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code meshinfer kubernetes-topology}: an init container's job. The downward API cannot
 * read the labels of the node a pod runs on, so this reads them from the Kubernetes API with
 * the pod's service account (which needs {@code get} on {@code nodes}, a cluster-scoped
 * resource) and writes the node's region and zone as meshinfer configuration that the node
 * process includes. A label the node lacks is left out (the node keeps its configured value)
 * and said so on stderr; an unreachable API or a refused request exits 1, so the pod does
 * not start in the wrong place.
 */
@Command(name = "kubernetes-topology", mixinStandardHelpOptions = true,
        description = "Write the region and zone of a Kubernetes node (its topology labels) as meshinfer"
                + " configuration: run in an init container, include the file from the node's --config.")
final class KubernetesTopologyCommand implements Callable<Integer> {
    private static final String SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount/";

    @Option(names = "--node", required = true,
            description = "The Kubernetes node the pod runs on (downward API: spec.nodeName).")
    String node;

    @Option(names = "--out", required = true, description = "The HOCON file to write.")
    Path out;

    @Option(names = "--region-label", defaultValue = "topology.kubernetes.io/region",
            description = "Node label holding the region (default: ${DEFAULT-VALUE}).")
    String regionLabel;

    @Option(names = "--zone-label", defaultValue = "topology.kubernetes.io/zone",
            description = "Node label holding the zone (default: ${DEFAULT-VALUE}).")
    String zoneLabel;

    @Option(names = "--api-server", description = "Kubernetes API URL (default: https://$KUBERNETES_SERVICE_HOST"
            + ":$KUBERNETES_SERVICE_PORT, as inside a pod).")
    String apiServer;

    @Option(names = "--token-file", defaultValue = SERVICE_ACCOUNT + "token",
            description = "Service account token (default: ${DEFAULT-VALUE}).")
    Path tokenFile;

    @Option(names = "--ca-file", defaultValue = SERVICE_ACCOUNT + "ca.crt",
            description = "CA certificate of the API server (default: ${DEFAULT-VALUE}).")
    Path caFile;

    @Override
    public Integer call() throws Exception {
        String api = apiServer != null ? apiServer : defaultApiServer();
        if (api == null) {
            System.err.println("kubernetes-topology: KUBERNETES_SERVICE_HOST is not set (not in a pod?); pass"
                    + " --api-server");
            return 1;
        }
        JsonNode labels;
        try {
            labels = nodeLabels(api);
        } catch (IOException e) {
            System.err.println("kubernetes-topology: " + e.getMessage());
            return 1;
        }
        StringBuilder conf = new StringBuilder("# written by meshinfer kubernetes-topology from the labels of node "
                + node + "\n");
        conf.append(setting("meshinfer.node.region", regionLabel, labels));
        conf.append(setting("meshinfer.node.zone", zoneLabel, labels));
        Path parent = out.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = Files.createTempFile(parent, ".topology", ".tmp");
        Files.writeString(tmp, conf, StandardCharsets.UTF_8);
        Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        System.out.print(conf);
        return 0;
    }

    /** One {@code key = "value"} line, or a comment (and a warning) when the node lacks the label. */
    private String setting(String key, String label, JsonNode labels) {
        JsonNode value = labels.get(label);
        if (value == null || !value.isTextual() || value.asText().isEmpty()) {
            System.err.println("kubernetes-topology: node " + node + " has no label " + label + "; " + key
                    + " keeps its configured value");
            return "# " + key + ": node " + node + " has no label " + label + "\n";
        }
        return key + " = " + ConfigValueFactory.fromAnyRef(value.asText()).render() + "\n";
    }

    private static String defaultApiServer() {
        String host = System.getenv("KUBERNETES_SERVICE_HOST");
        String port = System.getenv("KUBERNETES_SERVICE_PORT");
        if (host == null || host.isEmpty()) {
            return null;
        }
        return "https://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + (port == null ? "443" : port);
    }

    private JsonNode nodeLabels(String api) throws IOException {
        HttpClient.Builder client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10));
        if (api.startsWith("https:") && Files.exists(caFile)) {
            client.sslContext(trusting(caFile));
        }
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(api.replaceAll("/+$", "") + "/api/v1/nodes/"
                        + URLEncoder.encode(node, StandardCharsets.UTF_8)))
                .timeout(Duration.ofSeconds(20)).header("Accept", "application/json");
        if (Files.exists(tokenFile)) {
            request.header("Authorization", "Bearer " + Files.readString(tokenFile, StandardCharsets.UTF_8).trim());
        }
        HttpResponse<String> r;
        try {
            r = client.build().send(request.GET().build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        if (r.statusCode() == 403) {
            throw new IOException("the API server refused to show node " + node + " (HTTP 403): the pod's service"
                    + " account needs a ClusterRole with get on nodes (deploy/kubernetes/rbac.yaml)");
        }
        if (r.statusCode() != 200) {
            throw new IOException("reading node " + node + " from " + api + " failed: HTTP " + r.statusCode() + " "
                    + Cli.errorText(r.body()));
        }
        return new ObjectMapper().readTree(r.body()).path("metadata").path("labels");
    }

    private static SSLContext trusting(Path caFile) throws IOException {
        try (InputStream in = Files.newInputStream(caFile)) {
            KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
            trust.load(null, null);
            int i = 0;
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                trust.setCertificateEntry("ca-" + i++, c);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ssl = SSLContext.getInstance("TLS");
            ssl.init(null, tmf.getTrustManagers(), null);
            return ssl;
        } catch (java.security.GeneralSecurityException e) {
            throw new IOException("cannot use the CA certificate " + caFile + ": " + e.getMessage(), e);
        }
    }
}
