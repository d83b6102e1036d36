package io.meshinfer.bench;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The HTTP load generator against a real node: a closed loop counts every request it sent
 * as answered, reads the mean batch from JSON and binary answers alike, and counts a
 * server's refusals by status instead of losing them.
 */
class HttpTargetTest {
    private static TestNode node;
    private static final List<List<NamedTensor>> INPUTS = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        node = TestNode.start(Map.of("meshinfer.node.name", "bench-target"));
        assertEquals(201, Http.put(node.url() + "/v1/models/m/versions/1", TestModels.mlp()).status());
        await().atMost(Duration.ofSeconds(30)).until(() -> node.node().versionReady("m", "1"));
        for (int i = 0; i < 4; i++) {
            INPUTS.add(List.of(new NamedTensor("x", Tensor.ofFloats(new long[] {1, 4}, new float[] {i, 1, 2, 3}))));
        }
    }

    @AfterAll
    static void stop() {
        node.close();
    }

    private static LoadGenerator.Result closedLoop(String model, boolean binary) throws Exception {
        try (HttpTarget target = new HttpTarget(node.url(), model, null, binary)) {
            return new LoadGenerator(target, INPUTS, 5_000)
                    .closedLoop(8, Duration.ofMillis(300), Duration.ofSeconds(1), answered -> { });
        }
    }

    @Test
    void everyRequestOfAClosedLoopIsAnsweredAndItsBatchIsRead() throws Exception {
        for (boolean binary : new boolean[] {false, true}) {
            LoadGenerator.Result r = closedLoop("m", binary);
            assertTrue(r.sent() > 0, "binary " + binary + ": nothing sent");
            assertEquals(r.sent(), r.ok(), "binary " + binary + ": " + r.errors());
            assertEquals(Map.of(), r.errors());
            assertTrue(r.meanBatchRows() >= 1, "binary " + binary + ": mean batch " + r.meanBatchRows());
        }
    }

    @Test
    void aWarmUpUntilStableMeasuresOnceThreeWindowsAgreeAndStillAnswersEveryRequest() throws Exception {
        // windows of 300 ms agreeing within 50 %: a steady node settles after its third window
        LoadGenerator.WarmUp warmup = LoadGenerator.WarmUp.untilStable(Duration.ofMillis(300), 0.5,
                Duration.ofMillis(300), Duration.ofSeconds(20));
        for (boolean closed : new boolean[] {true, false}) {
            try (HttpTarget target = new HttpTarget(node.url(), "m", null, false)) {
                LoadGenerator gen = new LoadGenerator(target, INPUTS, 5_000);
                LoadGenerator.Result r = closed
                        ? gen.closedLoop(4, warmup, Duration.ofSeconds(1), answered -> { })
                        : gen.openLoop(200, warmup, Duration.ofSeconds(1), 64, answered -> { });
                assertTrue(r.warmupSeconds() >= 0.9 && r.warmupSeconds() < 20,
                        "closed " + closed + ": warm-up of " + r.warmupSeconds() + " s");
                assertEquals(1.0, r.seconds(), 1e-6);
                assertTrue(r.sent() > 0);
                assertEquals(r.sent(), r.ok(), "closed " + closed + ": " + r.errors());
            }
        }
    }

    @Test
    void aWarmUpSettlesOnlyWhenTheLastThreeWindowsEachLieWithinTheToleranceOfTheirMean() {
        LoadGenerator.WarmUp w = LoadGenerator.WarmUp.untilStable(Duration.ZERO, 0.05, Duration.ofSeconds(5),
                Duration.ofSeconds(60));
        assertFalse(w.settled(List.of(100.0, 100.0)), "fewer than three windows");
        assertTrue(w.settled(List.of(40.0, 70.0, 100.0, 102.0, 98.0)), "the last three agree");
        assertFalse(w.settled(List.of(100.0, 104.0, 90.0)), "90 is 7 % under the mean of 98");
        assertFalse(w.settled(List.of(0.0, 0.0, 0.0)), "nothing answered is not a steady state");
        assertFalse(w.settled(List.of(96.0, 100.0, 104.0)), "within 5 % of the mean, but still rising 8 %");
        assertTrue(w.settled(List.of(104.0, 100.0, 96.0)), "falling back is noise, not warm-up");
        assertFalse(LoadGenerator.WarmUp.fixed(Duration.ofSeconds(3)).adaptive());
    }

    @Test
    void refusalsAreCountedByStatus() throws Exception {
        LoadGenerator.Result r = closedLoop("no-such-model", false);
        assertTrue(r.sent() > 0);
        assertEquals(0, r.ok());
        assertEquals(Map.of("HTTP_404", r.sent()), r.errors());
    }
}
