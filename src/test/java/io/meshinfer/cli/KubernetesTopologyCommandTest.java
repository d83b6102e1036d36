package io.meshinfer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.meshinfer.node.MeshConfig;
import io.meshinfer.node.NodeSettings;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import io.meshinfer.testkit.CliRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code meshinfer kubernetes-topology} against an HTTP server on 127.0.0.1 that answers
 * {@code GET /api/v1/nodes/{name}} the way the Kubernetes API does (a Node object, or a 403
 * Status), and the node reading the file it writes through an {@code include} as the
 * manifests' ConfigMap does.
 */
class KubernetesTopologyCommandTest {
    private static final String TOKEN = "service-account-token";
    private final Map<String, String> nodes = new ConcurrentHashMap<>();
    private HttpServer api;

    @TempDir
    Path dir;

    @BeforeEach
    void startApi() throws IOException {
        api = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        api.createContext("/api/v1/nodes/", exchange -> {
            String name = exchange.getRequestURI().getPath().substring("/api/v1/nodes/".length());
            String body = nodes.get(name);
            int status = 200;
            if (!("Bearer " + TOKEN).equals(exchange.getRequestHeaders().getFirst("Authorization"))) {
                status = 401;
                body = "{\"kind\":\"Status\",\"message\":\"Unauthorized\"}";
            } else if (body == null) {
                status = 403;
                body = "{\"kind\":\"Status\",\"message\":\"nodes \\\"" + name + "\\\" is forbidden\"}";
            }
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(status, bytes.length);
            exchange.getResponseBody().write(bytes);
            exchange.close();
        });
        api.start();
    }

    @AfterEach
    void stopApi() {
        api.stop(0);
    }

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    private CliRun topology(String node, Path out) throws IOException {
        Path token = dir.resolve("token");
        Files.writeString(token, TOKEN + "\n");
        return run("kubernetes-topology", "--node", node, "--out", out.toString(),
                "--api-server", "http://127.0.0.1:" + api.getAddress().getPort(), "--token-file", token.toString(),
                "--ca-file", dir.resolve("no-ca.crt").toString());
    }

    private static String nodeJson(Map<String, String> labels) {
        StringBuilder l = new StringBuilder();
        labels.forEach((k, v) -> l.append(l.length() == 0 ? "" : ",").append('"').append(k).append("\":\"")
                .append(v).append('"'));
        return "{\"kind\":\"Node\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"n\",\"labels\":{" + l + "}}}";
    }

    @Test
    void theNodeRunsInTheRegionAndZoneOfItsKubernetesNode() throws IOException {
        nodes.put("worker-1", nodeJson(Map.of("kubernetes.io/hostname", "worker-1",
                "topology.kubernetes.io/region", "eu-west-1", "topology.kubernetes.io/zone", "eu-west-1b")));
        Path out = dir.resolve("run/topology.conf");

        CliRun r = topology("worker-1", out);

        assertEquals(0, r.code(), r.err());
        Config written = ConfigFactory.parseFile(out.toFile());
        assertEquals("eu-west-1", written.getString("meshinfer.node.region"));
        assertEquals("eu-west-1b", written.getString("meshinfer.node.zone"));
        // as deploy/kubernetes/configmap.yaml: the node's config file includes the written one
        Path nodeConf = dir.resolve("meshinfer.conf");
        Files.writeString(nodeConf, "meshinfer.node.region = \"unset\"\ninclude file(\"" + out + "\")\n");
        NodeSettings settings = NodeSettings.fromConfig(
                MeshConfig.load(ConfigFactory.parseFile(nodeConf.toFile())).resolve());
        assertEquals("eu-west-1", settings.region());
        assertEquals("eu-west-1b", settings.zone());
    }

    @Test
    void aMissingLabelLeavesTheConfiguredValue() throws IOException {
        nodes.put("bare-metal", nodeJson(Map.of("topology.kubernetes.io/region", "edge-north")));
        Path out = dir.resolve("topology.conf");

        CliRun r = topology("bare-metal", out);

        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("has no label topology.kubernetes.io/zone"), r.err());
        Config written = ConfigFactory.parseFile(out.toFile());
        assertEquals("edge-north", written.getString("meshinfer.node.region"));
        assertFalse(written.hasPath("meshinfer.node.zone"));
    }

    @Test
    void customLabelsCanNameTheRegionAndZone() throws IOException {
        nodes.put("rack-7", nodeJson(Map.of("example.com/site", "factory-3", "example.com/rack", "r7")));
        Path out = dir.resolve("topology.conf");
        Path token = dir.resolve("token");
        Files.writeString(token, TOKEN);

        CliRun r = run("kubernetes-topology", "--node", "rack-7", "--out", out.toString(), "--region-label",
                "example.com/site", "--zone-label", "example.com/rack", "--api-server",
                "http://127.0.0.1:" + api.getAddress().getPort(), "--token-file", token.toString());

        assertEquals(0, r.code(), r.err());
        Config written = ConfigFactory.parseFile(out.toFile());
        assertEquals(List.of("factory-3", "r7"), List.of(written.getString("meshinfer.node.region"),
                written.getString("meshinfer.node.zone")));
    }

    @Test
    void aForbiddenNodeExits1NamingTheMissingPermission() throws IOException {
        Path out = dir.resolve("topology.conf");

        CliRun r = topology("unknown-node", out);

        assertEquals(1, r.code());
        assertTrue(r.err().contains("needs a ClusterRole with get on nodes"), r.err());
        assertFalse(Files.exists(out), "nothing written, so the pod does not start with a wrong topology");
    }
}
