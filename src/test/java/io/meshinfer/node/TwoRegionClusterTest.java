package io.meshinfer.node;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.api.InferenceException;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.shard.PlacementDeferrals;
import io.meshinfer.shard.PlacementStrategy;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Two real nodes in one JVM, in regions "a" and "b": placement by region with
 * anti-affinity, artifacts fetched from the peer that has them, residency honoured at
 * routing and at the replica, and each node's own served counters.
 */
class TwoRegionClusterTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static TestNode a;
    private static TestNode b;

    @BeforeAll
    static void start() {
        a = TestNode.inRegion("node-a", "a", null);
        b = TestNode.inRegion("node-b", "b", a);
        await().atMost(Duration.ofSeconds(30)).until(() -> a.upMembers() == 2 && b.upMembers() == 2);
    }

    @AfterAll
    static void stop() {
        b.close();
        a.close();
    }


    private static JsonNode cluster(TestNode n) throws Exception {
        return JSON.readTree(Http.get(n.url() + "/v1/cluster").body());
    }

    private static Set<String> readyReplicaNodes(TestNode n, String model) throws Exception {
        Set<String> nodes = new HashSet<>();
        for (JsonNode r : cluster(n).get("replicas")) {
            if (r.get("model").asText().equals(model) && r.get("ready").asBoolean()) {
                nodes.add(r.get("node").asText());
            }
        }
        return nodes;
    }

    private static InferenceRequest request(String model, String... residency) {
        return InferenceRequest.builder(model).input("x", Tensor.ofFloats(new long[] {1, 4}, 1, 2, 3, 4))
                .residency(residency).timeout(Duration.ofSeconds(10)).build();
    }

    @Test
    void replicasSpreadAcrossNodesAndResidencyPicksTheRegion() throws Exception {
        assertEquals(201, Http.put(a.url() + "/v1/models/spread/versions/1?replicas=2", TestModels.mlp()).status());
        await().atMost(Duration.ofSeconds(30)).until(() ->
                readyReplicaNodes(a, "spread").equals(Set.of("node-a", "node-b"))
                        && readyReplicaNodes(b, "spread").equals(Set.of("node-a", "node-b")));

        for (int i = 0; i < 10; i++) {
            InferenceResponse inB = a.node().client().infer(request("spread", "b")).toCompletableFuture()
                    .get(20, TimeUnit.SECONDS);
            assertEquals("node-b", inB.node());
            assertEquals("b", inB.region());
            InferenceResponse inA = b.node().client().infer(request("spread", "a")).toCompletableFuture()
                    .get(20, TimeUnit.SECONDS);
            assertEquals("node-a", inA.node());
        }
        CompletionException e = org.junit.jupiter.api.Assertions.assertThrows(CompletionException.class, () ->
                a.node().client().infer(request("spread", "c")).toCompletableFuture().join());
        InferenceException ie = assertInstanceOf(InferenceException.ResidencyViolation.class, e.getCause());
        assertTrue(ie.getMessage().contains("[c]"), ie.getMessage());

        long servedInB = 0;
        for (JsonNode s : cluster(b).get("served")) {
            if (s.get("model").asText().equals("spread") && s.get("residency").toString().equals("[\"b\"]")) {
                servedInB += s.get("count").asLong();
            }
            assertNotEquals("[\"a\"]", s.get("residency").toString(), "node-b served data restricted to region a");
        }
        assertEquals(10, servedInB);
    }

    @Test
    void aVersionNoRegionCanHostWaitsCountedAndWarnedAboutOnce() throws Exception {
        Logger strategyLog = (Logger) LoggerFactory.getLogger(PlacementStrategy.class);
        ListAppender<ILoggingEvent> captured = new ListAppender<>();
        captured.start();
        strategyLog.addAppender(captured);
        try {
            long before = noHostDeferrals();
            Http.Reply r = Http.put(a.url() + "/v1/models/nowhere/versions/1?regions=c", TestModels.mlp());
            assertEquals(201, r.status(), r.body());
            await("three placement attempts, each deferred for want of a host in region c")
                    .atMost(Duration.ofSeconds(60)).until(() -> noHostDeferrals() >= before + 3);
            JsonNode p = JSON.readTree(Http.get(b.url() + "/v1/models/nowhere/versions/1/placement").body())
                    .path("placement").path(0);
            assertEquals("pending", p.path("status").asText(), p.toString());
            assertTrue(p.path("reason").asText().contains("no reachable replica host in regions [c]"), p.toString());
            long warnings = captured.list.stream()
                    .filter(e -> e.getFormattedMessage().startsWith("no reachable replica host")
                            && e.getFormattedMessage().contains("nowhere@1"))
                    .count();
            assertEquals(1, warnings, "warned once, not at every retry");
        } finally {
            strategyLog.detachAppender(captured);
            assertEquals(200, Http.delete(a.url() + "/v1/models/nowhere/versions/1").status());
        }
    }

    private static long noHostDeferrals() {
        return a.node().placementDeferrals().count(PlacementDeferrals.Reason.NO_ELIGIBLE_NODE)
                + b.node().placementDeferrals().count(PlacementDeferrals.Reason.NO_ELIGIBLE_NODE);
    }

    @Test
    void placementKeepsReplicasInTheirAllowedRegions() throws Exception {
        Http.Reply r = Http.put(b.url() + "/v1/models/only-a/versions/1?replicas=2&regions=a", TestModels.mlp());
        assertEquals(201, r.status(), r.body());
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            int ready = 0;
            for (JsonNode rep : cluster(b).get("replicas")) {
                if (rep.get("model").asText().equals("only-a") && rep.get("ready").asBoolean()) {
                    assertEquals("node-a", rep.get("node").asText(), "a replica placed outside region a");
                    ready++;
                }
            }
            return ready == 2;
        });
        InferenceResponse fromB = b.node().client().infer(request("only-a")).toCompletableFuture()
                .get(20, TimeUnit.SECONDS);
        assertEquals("node-a", fromB.node());
        CompletionException e = org.junit.jupiter.api.Assertions.assertThrows(CompletionException.class, () ->
                b.node().client().infer(request("only-a", "b")).toCompletableFuture().join());
        assertInstanceOf(InferenceException.ResidencyViolation.class, e.getCause());
    }

    @Test
    void everyNodeAttestsItsReplicaAndEveryNodeSeesAllResults() throws Exception {
        Http.Reply r = Http.put(a.url() + "/v1/models/attested/versions/1?replicas=2", TestModels.mlp());
        assertEquals(201, r.status(), r.body());
        assertEquals("recorded by node-a", JSON.readTree(r.body()).at("/golden/source").asText());
        for (TestNode n : List.of(a, b)) {
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                JsonNode nodes = JSON.readTree(Http.get(n.url() + "/v1/models/attested/versions/1/attestations")
                        .body()).get("nodes");
                return nodes.size() == 2 && nodes.get(0).get("node").asText().equals("node-a")
                        && nodes.get(1).get("node").asText().equals("node-b")
                        && nodes.get(0).get("passed").asBoolean() && nodes.get(1).get("passed").asBoolean()
                        && nodes.get(1).get("region").asText().equals("b");
            });
        }
        assertEquals(List.of("node-a", "node-b"), a.node().attestations("attested", "1").stream()
                .map(io.meshinfer.registry.Attestation::node).toList());

        assertEquals(200, Http.delete(a.url() + "/v1/models/attested/versions/1").status());
        await().atMost(Duration.ofSeconds(30)).until(() -> a.node().attestor().view().of("attested", "1").isEmpty()
                && b.node().attestor().view().of("attested", "1").isEmpty()
                && a.node().attestor().local().stream().noneMatch(x -> x.model().equals("attested"))
                && b.node().attestor().local().stream().noneMatch(x -> x.model().equals("attested")));
    }

    @Test
    void localReplicasAreCalledDirectly() throws Exception {
        assertEquals(201, Http.put(a.url() + "/v1/models/local/versions/1?replicas=2", TestModels.mlp()).status());
        await().atMost(Duration.ofSeconds(30)).until(() ->
                readyReplicaNodes(a, "local").size() == 2 && readyReplicaNodes(b, "local").size() == 2);
        for (int i = 0; i < 5; i++) {
            assertEquals("node-a", a.node().client().infer(request("local")).toCompletableFuture()
                    .get(20, TimeUnit.SECONDS).node(), "locality: the replica on the entry node serves");
            assertEquals("node-b", b.node().client().infer(request("local")).toCompletableFuture()
                    .get(20, TimeUnit.SECONDS).node());
        }
    }
}
