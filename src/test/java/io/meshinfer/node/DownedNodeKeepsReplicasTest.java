package io.meshinfer.node;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.shard.PooledReplica;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Down;
import org.junit.jupiter.api.Test;

/**
 * A node the cluster downs keeps its loaded replicas (island mode serves them), even though
 * its shard region stops the entities the moment the node sees itself downed, which can be
 * before the cluster's view of the node says Down. Found by PartitionScenario on a slow
 * machine: one minority node released its replica and answered 503 until the heal.
 */
class DownedNodeKeepsReplicasTest {

    @Test
    void aDownedNodeKeepsServingFromTheSameLoadedReplica() throws Exception {
        try (TestNode t = TestNode.start(java.util.Map.of("meshinfer.node.name", "downed-node"))) {
            MeshNode node = t.node();
            assertEquals(201, Http.put(t.url() + "/v1/models/kept/versions/1", TestModels.mlp()).status());
            await().atMost(Duration.ofSeconds(30)).until(() -> node.versionReady("kept", "1"));
            List<PooledReplica> before = node.pool().servingVersion("kept", "1");
            assertEquals(1, before.size());
            PooledReplica replica = before.get(0);
            ActorSystem<Void> first = node.clusterSystem();

            Cluster.get(first).manager().tell(new Down(Cluster.get(first).selfMember().address()));
            await("the downed membership ends and its actor system terminates").atMost(Duration.ofSeconds(60))
                    .until(() -> first.whenTerminated().isCompleted());

            // every entity of the old membership has stopped by now: the replica was kept, not released
            assertTrue(replica.serving(), "replica status after the downing: " + replica.status());
            assertTrue(node.pool().all().stream().anyMatch(r -> r == replica), "the pool still holds the replica");
            float[] x = {1, 2, 3, 4};
            InferenceResponse r = node.client()
                    .infer(InferenceRequest.builder("kept").input("x", Tensor.ofFloats(new long[] {1, 4}, x)).build())
                    .toCompletableFuture().get(30, TimeUnit.SECONDS);
            assertArrayEquals(TestModels.mlpReference(x, 1), r.output("y").floats(), 1e-6f);
            assertSame(replica, node.pool().servingVersion("kept", "1").get(0), "served by the replica loaded before");

            // the node rejoins as a new membership; the catalog view outlives memberships, so the
            // old membership's reconciler must have taken its listener with it
            await("the node is Up in a new membership").atMost(Duration.ofSeconds(90)).until(() -> {
                ActorSystem<Void> now = node.clusterSystem();
                return now != first && Cluster.get(now).selfMember().status() == MemberStatus.up();
            });
            await("one catalog listener, the new membership's").atMost(Duration.ofSeconds(30))
                    .until(() -> node.catalog().listenerCount() == 1);
            await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5))
                    .until(() -> node.catalog().listenerCount() == 1);
        }
    }
}
