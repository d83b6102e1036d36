package io.meshinfer.shard;

import static io.meshinfer.shard.MemoryBudgetTest.manifest;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.registry.ModelManifest;
import io.meshinfer.registry.ReplicaId;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import org.apache.pekko.actor.Address;
import org.junit.jupiter.api.Test;

/**
 * The placement decisions with node memory budgets, on hosts described as the shard
 * coordinator sees them (no cluster needed): only nodes with room take a replica, the other
 * preferences still order the nodes that fit, and rebalancing never moves a replica to a node
 * without room.
 */
class PlacementStrategyTest {
    private static final MemoryBudget MEMORY = new MemoryBudget(1.5);
    /** A stage of 500 bytes: estimated 750. */
    private static final long STAGE = 500;

    private final Map<String, ModelManifest> catalog = new HashMap<>();

    private ModelManifest deploy(ModelManifest m) {
        catalog.put(m.key(), m);
        return m;
    }

    private Optional<ModelManifest> lookup(String model, String version) {
        return Optional.ofNullable(catalog.get(model + "@" + version));
    }

    private static PlacementStrategy.Host host(int port, long budget, String... shards) {
        return new PlacementStrategy.Host(null, new Address("pekko", "meshinfer", "127.0.0.1", port), "eu", true,
                budget < 0 ? OptionalLong.empty() : OptionalLong.of(budget), List.of(shards));
    }

    private static int port(Optional<PlacementStrategy.Host> h) {
        return h.map(x -> x.address().getPort().get()).orElse(-1);
    }

    private Optional<PlacementStrategy.Host> choose(ModelManifest m, int replica, List<PlacementStrategy.Host> hosts) {
        return PlacementStrategy.choose(ReplicaId.format(m.model(), m.version(), replica), m, hosts, this::lookup,
                MEMORY);
    }

    @Test
    void aReplicaGoesOnlyToANodeWithRoomForItsEstimate() {
        ModelManifest m = deploy(manifest("m", "1", 'a', 1000)); // estimated 1500
        // the emptiest node is too small; the fuller one still has room
        deploy(manifest("o", "1", 'b', 100)); // estimated 150
        List<PlacementStrategy.Host> hosts = List.of(host(1, 1000), host(2, 2000, "o@1#0"));
        assertEquals(2, port(choose(m, 0, hosts)));
        // 150 + 1500 > 1600: nowhere
        assertEquals(-1, port(choose(m, 0, List.of(host(1, 1000), host(2, 1600, "o@1#0")))));
        // a node without a budget is unlimited
        assertEquals(3, port(choose(m, 0, List.of(host(1, 1000), host(3, -1, "o@1#0")))));
    }

    @Test
    void replicasOfUndeployedVersionsTakeNoRoom() {
        ModelManifest m = deploy(manifest("m", "1", 'a', 1000));
        // gone@1 was undeployed: its shard may stay allocated, but it no longer runs
        assertEquals(1, port(choose(m, 0, List.of(host(1, 1500, "gone@1#0")))));
    }

    @Test
    void replicasOfOneArtifactShareANodesBudget() {
        ModelManifest v1 = deploy(manifest("m", "1", 'a', 1000));
        ModelManifest v2 = deploy(manifest("m", "2", 'a', 1000)); // same bytes, another version
        // node 1 holds v1 and has room for nothing else, node 2 is too small: v2 shares v1's session
        List<PlacementStrategy.Host> hosts = List.of(host(1, 1500, "m@1#0"), host(2, 1000));
        assertEquals(1, port(choose(v2, 0, hosts)));
        // and a second replica of v1 too, when no other node can take it (anti-affinity is best effort)
        assertEquals(1, port(choose(v1, 1, hosts)));
    }

    @Test
    void amongNodesThatFitAntiAffinityAndStageSpreadingStillDecide() {
        ModelManifest s0 = deploy(manifest("p~stage-0", "1", 'a', STAGE));
        ModelManifest s1 = deploy(manifest("p~stage-1", "1", 'b', STAGE));
        deploy(manifest("q", "1", 'c', 10));
        // node 1 holds stage 0; node 2 has more replicas but no stage of p: stage 1 goes there
        List<PlacementStrategy.Host> hosts = List.of(host(1, 2000, "p~stage-0@1#0"),
                host(2, 2000, "q@1#0", "q@1#1"));
        assertEquals(2, port(choose(s1, 0, hosts)));
        // with node 2 too small for it, stage 1 joins stage 0 on node 1 (750 + 750 <= 2000)
        hosts = List.of(host(1, 2000, "p~stage-0@1#0"), host(2, 700, "q@1#0"));
        assertEquals(1, port(choose(s1, 0, hosts)));
        // a second replica of stage 0 avoids node 1 (same version) while node 3 has room
        hosts = List.of(host(1, 2000, "p~stage-0@1#0"), host(3, 800));
        assertEquals(3, port(choose(s0, 1, hosts)));
    }

    @Test
    void aNodeThatIsNotEligibleOrInAnotherRegionIsNeverChosen() {
        ModelManifest m = deploy(new ModelManifest("r", "1", MemoryBudgetTest.sha('d'), 10, null, 1, Set.of("us"), null,
                null, "n", 0L, "test", null, 0, null));
        PlacementStrategy.Host down = new PlacementStrategy.Host(null, new Address("pekko", "meshinfer", "h", 1), "us",
                false, OptionalLong.empty(), List.of());
        PlacementStrategy.Host elsewhere = host(2, -1);
        assertEquals(-1, port(choose(m, 0, List.of(down, elsewhere))));
    }

    @Test
    void rebalancingNeverMovesAReplicaToANodeWithoutRoom() {
        deploy(manifest("m", "1", 'a', 1000));
        // two replicas of m crowd node 1 (they share a session); node 2 has no room for a third copy
        List<PlacementStrategy.Host> hosts = List.of(host(1, 1500, "m@1#0", "m@1#1"), host(2, 1000));
        assertEquals(Set.of(), PlacementStrategy.moves(hosts, Set.of(), this::lookup, MEMORY));
        // with room on node 2, one of them moves
        hosts = List.of(host(1, 1500, "m@1#0", "m@1#1"), host(2, 1500));
        assertEquals(1, PlacementStrategy.moves(hosts, Set.of(), this::lookup, MEMORY).size());
    }

    @Test
    void aReplicaOnANodeOverItsBudgetMovesWhereItFits() {
        deploy(manifest("a", "1", 'a', 1000)); // 1500
        deploy(manifest("b", "1", 'b', 1000)); // 1500
        // node 1 holds both (3000 > 2000): e.g. a version redeployed under ids that kept their node
        List<PlacementStrategy.Host> hosts = List.of(host(1, 2000, "a@1#0", "b@1#0"), host(2, 1000));
        assertEquals(Set.of(), PlacementStrategy.moves(hosts, Set.of(), this::lookup, MEMORY), "node 2 too small");
        hosts = List.of(host(1, 2000, "a@1#0", "b@1#0"), host(2, 1600));
        Set<String> moves = PlacementStrategy.moves(hosts, Set.of(), this::lookup, MEMORY);
        assertTrue(moves.size() >= 1 && Set.of("a@1#0", "b@1#0").containsAll(moves), moves.toString());
    }
}
