package io.meshinfer.testkit;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.meshinfer.node.MeshConfig;
import io.meshinfer.node.MeshNode;
import io.meshinfer.node.NodeResources;
import io.meshinfer.runtime.RuntimeSettings;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real single-node meshinfer cluster in this JVM for tests: its own actor system on a
 * free port, HTTP on a free port, a temporary data directory, serialize-messages on. A data
 * directory the node made itself is deleted when it closes; one it was given is the caller's.
 */
public final class TestNode implements AutoCloseable {
    private final MeshNode node;
    private final NodeResources resources;
    private final Path dataDir;
    private final boolean ownsDataDir;

    private TestNode(MeshNode node, NodeResources resources, Path dataDir, boolean ownsDataDir) {
        this.node = node;
        this.resources = resources;
        this.dataDir = dataDir;
        this.ownsDataDir = ownsDataDir;
    }

    public static TestNode start() {
        return start(Map.of());
    }

    /** Starts a node with these configuration overrides (keys as in reference.conf). */
    public static TestNode start(Map<String, Object> overrides) {
        try {
            return start(overrides, Files.createTempDirectory("meshinfer-test"), true, true);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Starts node {@code name} in region {@code region} (zone {@code region + "1"}), joining
     * {@code seed}'s cluster, or forming its own when {@code seed} is null.
     */
    public static TestNode inRegion(String name, String region, TestNode seed) {
        return inRegion(name, region, seed, Map.of());
    }

    /** As {@link #inRegion(String, String, TestNode)}, with {@code extra} configuration. */
    public static TestNode inRegion(String name, String region, TestNode seed, Map<String, Object> extra) {
        Map<String, Object> config = new java.util.HashMap<>(Map.of("meshinfer.node.name", name,
                "meshinfer.node.region", region, "meshinfer.node.zone", region + "1"));
        config.putAll(extra);
        if (seed != null) {
            config.put("pekko.cluster.seed-nodes", java.util.List.of("pekko://meshinfer@" + seed.clusterHostPort()));
        }
        return start(config);
    }

    /** Starts a node on an existing data directory (e.g. to restart one). */
    public static TestNode start(Map<String, Object> overrides, Path dataDir) {
        return start(overrides, dataDir, true, false);
    }

    /** Starts a node and returns once its HTTP is up, without waiting for it to join its cluster. */
    public static TestNode startJoining(Map<String, Object> overrides) {
        try {
            return start(overrides, Files.createTempDirectory("meshinfer-test"), false, true);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static TestNode start(Map<String, Object> overrides, Path dataDir, boolean awaitUp, boolean ownsDataDir) {
        try {
            Map<String, Object> all = new HashMap<>(overrides);
            all.put("meshinfer.node.data-dir", dataDir.toString());
            all.putIfAbsent("meshinfer.node.name", "test-node");
            Config config = MeshConfig.load(ConfigFactory.parseMap(all)).resolve();
            NodeResources resources = NodeResources.open(RuntimeSettings.fromConfig(config), dataDir);
            MeshNode node = MeshNode.start(config, resources);
            try {
                if (awaitUp) {
                    node.awaitUp(Duration.ofSeconds(30));
                }
            } catch (RuntimeException e) {
                node.shutdown();
                throw e;
            }
            return new TestNode(node, resources, dataDir, ownsDataDir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** This node's cluster transport address as {@code host:port}. */
    public String clusterHostPort() {
        var a = org.apache.pekko.cluster.typed.Cluster.get(node.clusterSystem()).selfMember().address();
        return a.getHost().get() + ":" + a.getPort().get();
    }

    public MeshNode node() {
        return node;
    }

    public NodeResources resources() {
        return resources;
    }

    /** Members this node's {@code GET /v1/cluster} shows Up and reachable. */
    public int upMembers() throws IOException {
        int up = 0;
        for (com.fasterxml.jackson.databind.JsonNode m : new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(Http.get(url() + "/v1/cluster").body()).get("members")) {
            if (m.get("status").asText().equals("Up") && m.get("reachable").asBoolean()) {
                up++;
            }
        }
        return up;
    }

    public String url() {
        return node.httpUrl();
    }

    public Path dataDir() {
        return dataDir;
    }

    @Override
    public void close() {
        try {
            node.shutdown().toCompletableFuture().get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("node did not stop", e);
        } finally {
            resources.close();
            if (ownsDataDir) {
                TempDirs.delete(dataDir);
            }
        }
    }
}
