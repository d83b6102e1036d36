package io.meshinfer.node;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Down;
import org.junit.jupiter.api.Test;

/**
 * {@code meshinfer.cluster.bootstrap = kubernetes} on real nodes: Pekko Management and Cluster
 * Bootstrap form the cluster and bring a downed node back, with no seed nodes anywhere. The
 * Kubernetes API is the one part swapped: bootstrap discovers the two management ports
 * through Pekko's config discovery instead, which feeds the same bootstrap process.
 */
class ClusterBootstrapTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static Map<String, Object> bootstrapConfig(String name, int managementPort, List<Integer> contactPoints) {
        Map<String, Object> c = new HashMap<>();
        c.put("meshinfer.node.name", name);
        c.put("meshinfer.cluster.bootstrap", "kubernetes");
        c.put("meshinfer.cluster.kubernetes.management-port", managementPort);
        c.put("meshinfer.cluster.kubernetes.stable-margin", "1s");
        String d = "pekko.management.cluster.bootstrap.contact-point-discovery.";
        c.put(d + "discovery-method", "config");
        c.put(d + "port-name", "");
        c.put("pekko.management.cluster.bootstrap.contact-point.filter-on-fallback-port", "false");
        c.put("pekko.discovery.config.services.meshinfer.endpoints",
                contactPoints.stream().map(p -> Map.of("host", "127.0.0.1", "port", p)).toList());
        // Pekko Management's own local messages are not meant to cross the wire (it talks HTTP)
        c.put("pekko.actor.serialize-messages", "off");
        return c;
    }

    private static List<String> upMembers(TestNode n) throws IOException {
        List<String> up = new java.util.ArrayList<>();
        for (JsonNode m : JSON.readTree(Http.get(n.url() + "/v1/cluster").body()).get("members")) {
            if (m.get("status").asText().equals("Up") && m.get("reachable").asBoolean()) {
                up.add(m.get("name").asText());
            }
        }
        java.util.Collections.sort(up);
        return up;
    }

    @Test
    void twoPodsFormOneClusterThroughBootstrapAndADownedOneRejoinsThroughIt() throws Exception {
        int p1 = freePort();
        int p2 = freePort();
        List<Integer> both = List.of(p1, p2);
        // neither can form the cluster alone (two contact points are required): start them together
        CompletableFuture<TestNode> startA = CompletableFuture.supplyAsync(() ->
                TestNode.start(bootstrapConfig("pod-a", p1, both)));
        CompletableFuture<TestNode> startB = CompletableFuture.supplyAsync(() ->
                TestNode.start(bootstrapConfig("pod-b", p2, both)));
        try (TestNode a = startA.get(60, TimeUnit.SECONDS); TestNode b = startB.get(60, TimeUnit.SECONDS)) {
            await().atMost(Duration.ofSeconds(30)).until(() -> upMembers(a).equals(List.of("pod-a", "pod-b"))
                    && upMembers(b).equals(List.of("pod-a", "pod-b")));

            // the contact point peers probe: it names this node and the cluster it belongs to
            JsonNode contact = JSON.readTree(Http.get("http://127.0.0.1:" + p1 + "/bootstrap/seed-nodes").body());
            assertEquals("pekko://meshinfer@" + a.clusterHostPort(), contact.get("selfNode").asText());
            assertEquals(2, contact.get("seedNodes").size(), contact.toString());

            // downed, pod-b starts a fresh membership and finds the cluster again through bootstrap
            String firstB = b.clusterHostPort();
            var downed = Cluster.get(b.node().clusterSystem()).selfMember().address();
            Cluster.get(a.node().clusterSystem()).manager().tell(new Down(downed));
            await().atMost(Duration.ofSeconds(60)).until(() -> !b.clusterHostPort().equals(firstB)
                    && b.node().ready() && upMembers(a).equals(List.of("pod-a", "pod-b")));
            assertNotEquals(firstB, b.clusterHostPort());
            assertTrue(upMembers(b).contains("pod-a"));
        }
    }

    @Test
    void seedNodesAndKubernetesBootstrapExcludeEachOther() {
        Map<String, Object> config = bootstrapConfig("pod-seeded", 1, List.of(1));
        config.put("pekko.cluster.seed-nodes", List.of("pekko://meshinfer@127.0.0.1:1"));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> TestNode.start(config));
        assertTrue(e.getMessage().contains("exclude each other"), e.getMessage());
    }

    @Test
    void anUnknownBootstrapModeIsRefused() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> TestNode.start(Map.of("meshinfer.cluster.bootstrap", "dns")));
        assertTrue(e.getMessage().contains("must be 'seeds' or 'kubernetes', not 'dns'"), e.getMessage());
    }
}
