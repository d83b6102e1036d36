package io.meshinfer.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.meshinfer.registry.ModelManifest;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The budget arithmetic: estimates, one session per artifact and node, fitting, config and roles. */
class MemoryBudgetTest {
    private static final MemoryBudget ONE_AND_A_HALF = new MemoryBudget(1.5);

    static String sha(char c) {
        return String.valueOf(c).repeat(64);
    }

    static ModelManifest manifest(String model, String version, char sha, long size) {
        return new ModelManifest(model, version, sha(sha), size, null, 1, Set.of(), null, null, "n", 0L, "test", null,
                0, ModelManifest.pipelineOf(model));
    }

    @Test
    void estimateIsTheFileSizeTimesTheOverheadRoundedUp() {
        assertEquals(1500, ONE_AND_A_HALF.estimate(1000));
        assertEquals(2, ONE_AND_A_HALF.estimate(1));
        assertEquals(0, ONE_AND_A_HALF.estimate(0));
        assertEquals(1000, new MemoryBudget(1.0).estimate(1000));
        assertEquals(Long.MAX_VALUE, ONE_AND_A_HALF.estimate(Long.MAX_VALUE));
    }

    @Test
    void anArtifactCountsOncePerNodeHoweverManyReplicasShareIt() {
        ModelManifest v1 = manifest("m", "1", 'a', 1000);
        ModelManifest v2SameBytes = manifest("m", "2", 'a', 1000);
        ModelManifest other = manifest("o", "1", 'b', 400);
        assertEquals(1500, ONE_AND_A_HALF.allocated(List.of(v1, v1, v2SameBytes)));
        assertEquals(2100, ONE_AND_A_HALF.allocated(List.of(v1, other, v1)));
        assertEquals(0, ONE_AND_A_HALF.allocated(List.of()));
    }

    @Test
    void aReplicaFitsWhileTheNodesEstimatesPlusItsOwnStayWithinTheBudget() {
        ModelManifest big = manifest("big", "1", 'a', 1000);
        ModelManifest small = manifest("small", "1", 'b', 400);
        OptionalLong budget = OptionalLong.of(2100);
        assertTrue(ONE_AND_A_HALF.fits(budget, List.of(), big));
        assertTrue(ONE_AND_A_HALF.fits(budget, List.of(big), small), "1500 + 600 = 2100, exactly the budget");
        assertFalse(ONE_AND_A_HALF.fits(OptionalLong.of(2099), List.of(big), small));
        assertFalse(ONE_AND_A_HALF.fits(OptionalLong.of(1499), List.of(), big), "larger than the whole budget");
        // a second replica of an artifact the node holds shares its session: no extra memory
        assertTrue(ONE_AND_A_HALF.fits(OptionalLong.of(1500), List.of(big), manifest("big", "2", 'a', 1000)));
        // no budget: unlimited
        assertTrue(ONE_AND_A_HALF.fits(OptionalLong.empty(), List.of(big, small), manifest("huge", "1", 'c',
                Long.MAX_VALUE / 2)));
    }

    @Test
    void theNodeBudgetIsAHoconSizeOrOff() {
        assertEquals(OptionalLong.of(512L * 1024 * 1024), MemoryBudget.nodeBudget(config("512MiB")));
        assertEquals(OptionalLong.of(2_000_000_000L), MemoryBudget.nodeBudget(config("2GB")));
        assertEquals(OptionalLong.of(1234), MemoryBudget.nodeBudget(config("1234")));
        assertEquals(OptionalLong.empty(), MemoryBudget.nodeBudget(config("off")));
        assertEquals(OptionalLong.empty(), MemoryBudget.nodeBudget(config("")));
        assertEquals(OptionalLong.empty(), MemoryBudget.nodeBudget(ConfigFactory.load()), "the default has no limit");
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> MemoryBudget.nodeBudget(config("lots")));
        assertTrue(bad.getMessage().contains("--memory-budget"), bad.getMessage());
        assertThrows(IllegalArgumentException.class, () -> MemoryBudget.nodeBudget(config("0")));
        assertThrows(IllegalArgumentException.class, () -> new MemoryBudget(0.5));
        assertEquals(1.5, MemoryBudget.fromConfig(ConfigFactory.load()).overhead(), "the documented default");
    }

    private static com.typesafe.config.Config config(String budget) {
        return ConfigFactory.parseMap(Map.of("meshinfer.node.memory-budget", budget));
    }

    @Test
    void aNodePublishesItsBudgetAsARole() {
        assertEquals("memory-budget:1048576", MemoryBudget.role(1048576));
        assertEquals(OptionalLong.of(1048576), MemoryBudget.budgetOf(Set.of("region:eu", "memory-budget:1048576")));
        assertEquals(OptionalLong.empty(), MemoryBudget.budgetOf(Set.of("region:eu")));
        assertEquals(OptionalLong.empty(), MemoryBudget.budgetOf(Set.of("memory-budget:garbage")));
        assertEquals("786.4 KiB", MemoryBudget.human(805_274));
        assertEquals("512 B", MemoryBudget.human(512));
        assertEquals("1.5 GiB", MemoryBudget.human(3L << 29));
    }
}
