package io.meshinfer.serialization;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import io.meshinfer.node.MeshConfig;
import io.meshinfer.registry.ModelEntry;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.rollout.Rollout;
import io.meshinfer.rollout.RolloutManager;
import io.meshinfer.rollout.RolloutSpec;
import io.meshinfer.rollout.StatsReporter;
import io.meshinfer.rollout.StatsSnapshot;
import io.meshinfer.runtime.ModelSignature;
import java.io.NotSerializableException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** Rollout state and the rollout manager's messages through the real Kryo binding. */
class RolloutSerializationTest {
    private static final ActorTestKit TESTKIT = ActorTestKit.create("kryo-rollout", MeshConfig.load().resolve());
    private static final Serialization SERIALIZATION =
            SerializationExtension.get(Adapter.toClassic(TESTKIT.system()));

    @AfterAll
    static void stop() {
        TESTKIT.shutdownTestKit();
    }

    private static Object roundTrip(Object o) throws NotSerializableException {
        Serializer s = SERIALIZATION.findSerializerFor(o);
        assertInstanceOf(KryoSerializer.class, s, "bound to Kryo: " + o.getClass());
        return SERIALIZATION.deserialize(s.toBinary(o), s.identifier(), Serializers.manifestFor(s, o)).get();
    }

    private static final RolloutSpec SPEC = new RolloutSpec("2", RolloutSpec.Strategy.SHADOW, List.of(5, 100), 30_000,
            new RolloutSpec.Gates(0.01, null, 0.99, 1e-3, 20));

    @Test
    void anEntryWithItsRolloutRoundTrips() throws Exception {
        ModelManifest m1 = new ModelManifest("m", "1", "ab".repeat(32), 1, new ModelSignature(List.of(), List.of(),
                null), 1, Set.of(), null, null, "n1", 1, "a", null, 0, null);
        ModelManifest m2 = new ModelManifest("m", "2", "cd".repeat(32), 1, new ModelSignature(List.of(), List.of(),
                null), 1, Set.of("eu"), 4, 2L, "n1", 2, "a", null, 0, null);
        Rollout r = new Rollout("m", "1", SPEC, Rollout.Status.RUNNING, 0, 10, 0, "step 1", 5, 10, "alice", 1.5,
                List.of(new Rollout.Event(5, -1, "started", Map.of("1", 100)),
                        new Rollout.Event(10, 0, "step 1", Map.of("1", 95, "2", 5))));
        ModelEntry e = ModelEntry.empty("m").withVersion(m1).withVersion(m2).withRouting(Map.of("1", 95, "2", 5), r);
        assertEquals(e, roundTrip(e));
    }

    @Test
    void managerCommandsAndRepliesRoundTrip() throws Exception {
        TestProbe<RolloutManager.Reply> probe = TESTKIT.createTestProbe();
        RolloutManager.Start start = new RolloutManager.Start("m", SPEC, "alice", probe.getRef());
        assertEquals(start, roundTrip(start));
        RolloutManager.Control c = new RolloutManager.Control("m", RolloutManager.Action.ABORT, "bob", probe.getRef());
        assertEquals(c, roundTrip(c));
        RolloutManager.Reply reply = new RolloutManager.Reply(RolloutManager.Outcome.CONFLICT, "busy", null);
        assertEquals(reply, roundTrip(reply));
    }

    @Test
    void statisticsQueriesAndReportsRoundTrip() throws Exception {
        TestProbe<StatsReporter.Report> probe = TESTKIT.createTestProbe();
        StatsReporter.Query q = new StatsReporter.Query(List.of("m@1", "m@2"), 1234, probe.getRef());
        assertEquals(q, roundTrip(q));
        long[] hist = new long[io.meshinfer.rollout.VersionStats.BUCKETS];
        hist[7] = 3;
        StatsReporter.Report rep = new StatsReporter.Report("n1", Map.of("m@2", new StatsSnapshot(3, 1, hist, 2, 1,
                0.25)));
        StatsReporter.Report back = (StatsReporter.Report) roundTrip(rep);
        StatsSnapshot s = back.stats().get("m@2");
        assertEquals(3, s.requests());
        assertEquals(1, s.errors());
        assertArrayEquals(hist, s.latency());
        assertEquals(0.25, s.maxAbsDiff());
    }
}
