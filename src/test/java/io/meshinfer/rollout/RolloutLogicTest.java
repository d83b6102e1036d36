package io.meshinfer.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.api.InferenceResponse;
import io.meshinfer.registry.ModelEntry;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.runtime.ModelSignature;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The rollout's pure parts: transitions, gates, sticky picks, statistics, comparisons. */
class RolloutLogicTest {
    private static final RolloutSpec.Gates GATES = new RolloutSpec.Gates(0.01, 2.0, null, null, 10);

    private static ModelManifest manifest(String version, long deployedAt) {
        return new ModelManifest("m", version, "a".repeat(64), 10, new ModelSignature(List.of(), List.of(), null),
                1, Set.of(), null, null, "n1", deployedAt, "test", null, 0, null);
    }

    private static ModelEntry twoVersions() {
        return ModelEntry.empty("m").withVersion(manifest("1", 1000)).withVersion(manifest("2", 2000));
    }

    private static RolloutSpec canary(List<Integer> steps) {
        return new RolloutSpec("2", RolloutSpec.Strategy.CANARY, steps, 1000, GATES);
    }

    @Test
    void stepsAreAppliedOnceEachAndAStaleDecisionIsRefused() {
        ModelEntry e = Transitions.start(twoVersions(), "m", canary(List.of(10, 50, 100)), "op", "n1", 1);
        Rollout waiting = e.rollout();
        assertEquals(-1, waiting.step());
        assertEquals(Map.of("1", 100), e.weights());

        ModelEntry s1 = Transitions.advance(e, waiting, "n1", 2, 0);
        assertEquals(Map.of("1", 90, "2", 10), s1.weights());
        assertEquals(0, s1.rollout().step());
        assertTrue(s1.epoch() > e.epoch());
        // a manager that decided on the waiting state (e.g. before a fail-over) cannot apply it again
        RolloutRefused stale = assertThrows(RolloutRefused.class, () -> Transitions.advance(s1, waiting, "n2", 3, 0));
        assertEquals(RolloutManager.Outcome.CONFLICT, stale.outcome());

        ModelEntry s2 = Transitions.advance(s1, s1.rollout(), "n2", 3, 0);
        ModelEntry s3 = Transitions.advance(s2, s2.rollout(), "n2", 4, 0);
        assertEquals(Map.of("2", 100), s3.weights());
        ModelEntry done = Transitions.advance(s3, s3.rollout(), "n2", 5, 0);
        assertEquals(Rollout.Status.COMPLETED, done.rollout().status());
        assertEquals(Map.of("2", 100), done.weights());
        assertFalse(done.activeRollout().isPresent());
    }

    @Test
    void rollbackGivesAllTrafficToTheOldVersionAndRecordsWhy() {
        ModelEntry e = Transitions.start(twoVersions(), "m", canary(List.of(10, 100)), "op", "n1", 1);
        ModelEntry s1 = Transitions.advance(e, e.rollout(), "n1", 2, 0);
        ModelEntry back = Transitions.rollBack(s1, s1.rollout(), "error rate too high", 3);
        assertEquals(Map.of("1", 100), back.weights());
        assertEquals(Rollout.Status.ROLLED_BACK, back.rollout().status());
        assertEquals("error rate too high", back.rollout().reason());
        assertThrows(RolloutRefused.class, () -> Transitions.advance(back, s1.rollout(), "n1", 4, 0));
    }

    @Test
    void pauseStopsTheDwellClockAndResumeContinuesIt() {
        ModelEntry e = Transitions.start(twoVersions(), "m", canary(List.of(10, 100)), "op", "n1", 1);
        ModelEntry s1 = Transitions.advance(e, e.rollout(), "n1", 1000, 0);
        ModelEntry paused = Transitions.pause(s1, s1.rollout(), "op", 1500);
        ModelEntry resumed = Transitions.resume(paused, paused.rollout(), "op", 4500);
        assertEquals(4000, resumed.rollout().stepStartedAtMillis(), "500 ms dwelt before the pause still count");
        assertEquals(Rollout.Status.RUNNING, resumed.rollout().status());
    }

    @Test
    void aVersionInARolloutCannotBeUndeployedAndASecondRolloutIsRefused() {
        ModelEntry e = Transitions.start(twoVersions(), "m", canary(List.of(10, 100)), "op", "n1", 1);
        assertEquals(RolloutManager.Outcome.CONFLICT,
                assertThrows(RolloutRefused.class, () -> Transitions.undeploy(e, "m", "1")).outcome());
        assertEquals(RolloutManager.Outcome.CONFLICT, assertThrows(RolloutRefused.class,
                () -> Transitions.start(e, "m", canary(List.of(100)), "op", "n1", 2)).outcome());
        assertEquals(RolloutManager.Outcome.NOT_FOUND, assertThrows(RolloutRefused.class,
                () -> Transitions.start(twoVersions(), "m", new RolloutSpec("3", RolloutSpec.Strategy.CANARY,
                        List.of(100), 0, GATES), "op", "n1", 2)).outcome());
    }

    @Test
    void shadowKeepsAllTrafficOnTheOldVersionUntilItCompletes() {
        RolloutSpec shadow = new RolloutSpec("2", RolloutSpec.Strategy.SHADOW, List.of(20, 100), 1000,
                new RolloutSpec.Gates(null, null, 0.99, null, 10));
        ModelEntry e = Transitions.start(twoVersions(), "m", shadow, "op", "n1", 1);
        ModelEntry s1 = Transitions.advance(e, e.rollout(), "n1", 2, 0);
        assertEquals(Map.of("1", 100), s1.weights());
        assertEquals(0.2, s1.rollout().mirrorFraction(), 1e-9);
        ModelEntry s2 = Transitions.advance(s1, s1.rollout(), "n1", 3, 0);
        ModelEntry done = Transitions.advance(s2, s2.rollout(), "n1", 4, 0);
        assertEquals(Map.of("2", 100), done.weights());
        assertEquals(0, done.rollout().mirrorFraction());
    }

    @Test
    void gatesFailOnErrorsAtOnceAndPassOnlyAfterTheDwellWithEnoughTraffic() {
        ModelEntry e = Transitions.start(twoVersions(), "m", canary(List.of(10, 100)), "op", "n1", 1);
        Rollout r = Transitions.advance(e, e.rollout(), "n1", 2, 0).rollout();
        StatsSnapshot old = stats(1000, 5, 1_000);
        assertEquals(GateCheck.Kind.FAIL, GateCheck.judge(r, old, stats(20, 10, 1_000), false, 5).kind());
        assertEquals(GateCheck.Kind.HOLD, GateCheck.judge(r, old, stats(20, 0, 1_000), false, 5).kind());
        assertEquals(GateCheck.Kind.HOLD, GateCheck.judge(r, old, stats(5, 0, 1_000), true, 5).kind(),
                "too little traffic to judge");
        assertEquals(GateCheck.Kind.PASS, GateCheck.judge(r, old, stats(20, 0, 1_000), true, 5).kind());
        GateCheck.Verdict slow = GateCheck.judge(r, old, stats(20, 0, 50_000), true, 5);
        assertEquals(GateCheck.Kind.FAIL, slow.kind());
        assertTrue(slow.reason().contains("p99"), slow.reason());
        assertEquals(GateCheck.Kind.PASS, GateCheck.judge(r, old, stats(20, 0, 3_000), true, 5).kind(),
                "3x slower but within the 5 ms slack");

        // under 100 requests one slow request (a pause of a busy host) does not decide; two do
        assertEquals(GateCheck.Kind.PASS, GateCheck.judge(r, old, withSlow(stats(12, 0, 1_000), 1, 50_000), true, 5)
                .kind());
        GateCheck.Verdict twoSlow = GateCheck.judge(r, old, withSlow(stats(12, 0, 1_000), 2, 50_000), true, 5);
        assertEquals(GateCheck.Kind.FAIL, twoSlow.kind());
        assertTrue(twoSlow.reason().contains("second slowest of its 12 requests"), twoSlow.reason());
        // with 100 or more, the 99th percentile itself: 2 slow of 150 pass, 2 of 100 fail
        assertEquals(GateCheck.Kind.PASS, GateCheck.judge(r, old, withSlow(stats(150, 0, 1_000), 1, 50_000), true, 5)
                .kind());
        assertEquals(GateCheck.Kind.FAIL, GateCheck.judge(r, old, withSlow(stats(100, 0, 1_000), 2, 50_000), true, 5)
                .kind());
    }

    /** {@code s} with {@code slow} of its requests moved to {@code latencyMicros}. */
    private static StatsSnapshot withSlow(StatsSnapshot s, long slow, long latencyMicros) {
        long[] h = new long[VersionStats.BUCKETS];
        h[VersionStats.bucketOf(1_000)] = s.requests() - slow;
        h[VersionStats.bucketOf(latencyMicros)] = slow;
        return new StatsSnapshot(s.requests(), s.errors(), h, 0, 0, 0);
    }

    private static StatsSnapshot stats(long requests, long errors, long latencyMicros) {
        long[] h = new long[VersionStats.BUCKETS];
        h[VersionStats.bucketOf(latencyMicros)] = requests;
        return new StatsSnapshot(requests, errors, h, 0, 0, 0);
    }

    @Test
    void stickyKeysOnlyEverMoveFromTheOldVersionToTheNew() {
        ModelEntry base = twoVersions();
        Map<String, String> previous = new java.util.HashMap<>();
        for (int w = 0; w <= 100; w += 5) {
            ModelEntry e = base.withRouting(Map.of("1", 100 - w, "2", w), null);
            for (int k = 0; k < 200; k++) {
                String key = "caller-" + k;
                String v = e.pickVersion(key).orElseThrow().version();
                assertEquals(v, e.pickVersion(key).orElseThrow().version(), "the same key, the same version");
                if ("2".equals(previous.get(key))) {
                    assertEquals("2", v, key + " moved back to the old version at weight " + w);
                }
                previous.put(key, v);
            }
        }
        long onNew = previous.values().stream().filter("2"::equals).count();
        assertEquals(200, onNew);
    }

    @Test
    void versionStatsCountPerSecondAndForgetOutsideTheWindow() {
        VersionStats s = new VersionStats(60);
        long now = System.currentTimeMillis();
        for (int i = 0; i < 100; i++) {
            s.record("m@2", 2_000_000, i % 10 == 0);
        }
        s.recordComparison("m@2", true, 0.001);
        s.recordComparison("m@2", false, 0.5);
        StatsSnapshot snap = s.since("m@2", now - 1000);
        assertEquals(100, snap.requests());
        assertEquals(10, snap.errors());
        assertEquals(2, snap.compared());
        assertEquals(1, snap.agreed());
        assertEquals(0.5, snap.maxAbsDiff(), 1e-12);
        double p99 = snap.quantileMillis(0.99);
        assertTrue(p99 >= 2.0 && p99 < 2.5, "p99 " + p99 + " ms for 2 ms requests");
        assertEquals(0, s.since("m@2", now + 5_000).requests(), "nothing after the asked start");
        assertEquals(0, s.since("m@9", 0).requests());
        s.retain(Set.of());
        assertEquals(Set.of(), s.recorded());
    }

    @Test
    void comparisonsUseTopOneForClassesAndTheToleranceOtherwise() {
        InferenceResponse a = response(Tensor.ofFloats(new long[] {2, 3}, 0.1f, 0.7f, 0.2f, 0.5f, 0.3f, 0.2f));
        InferenceResponse sameTop = response(Tensor.ofFloats(new long[] {2, 3}, 0.2f, 0.6f, 0.2f, 0.4f, 0.35f, 0.25f));
        InferenceResponse otherTop = response(Tensor.ofFloats(new long[] {2, 3}, 0.1f, 0.7f, 0.2f, 0.2f, 0.5f, 0.3f));
        assertTrue(OutputComparison.of(a, sameTop, 1e-4).agreed());
        assertEquals(0.1, OutputComparison.of(a, sameTop, 1e-4).maxAbsDiff(), 1e-6);
        assertFalse(OutputComparison.of(a, otherTop, 1e-4).agreed());
        InferenceResponse wrongShape = response(Tensor.ofFloats(new long[] {1, 3}, 0.1f, 0.7f, 0.2f));
        assertFalse(OutputComparison.of(a, wrongShape, 1e-4).agreed());
        InferenceResponse scalarA = response(Tensor.ofFloats(new long[] {2, 1}, 1f, 2f));
        InferenceResponse scalarB = response(Tensor.ofFloats(new long[] {2, 1}, 1f, 2.01f));
        assertFalse(OutputComparison.of(scalarA, scalarB, 1e-3).agreed());
        assertTrue(OutputComparison.of(scalarA, scalarB, 0.1).agreed());
    }

    private static InferenceResponse response(Tensor y) {
        return new InferenceResponse("id", "m", "1", List.of(new NamedTensor("y", y)), "n1", "r", 1, false);
    }

    @Test
    void specsAreCheckedWhenBuilt() {
        assertThrows(IllegalArgumentException.class, () -> canary(List.of()));
        assertThrows(IllegalArgumentException.class, () -> canary(List.of(0, 100)));
        assertThrows(IllegalArgumentException.class, () -> canary(List.of(50, 50, 100)));
        assertThrows(IllegalArgumentException.class, () -> canary(List.of(50)));
        RolloutSpec bg = new RolloutSpec("2", RolloutSpec.Strategy.BLUE_GREEN, List.of(5, 50), 0, GATES);
        assertEquals(List.of(100), bg.steps());
        assertSame(RolloutSpec.Strategy.BLUE_GREEN, RolloutSpec.Strategy.parse("blue-green"));
    }
}
