package io.meshinfer.bench;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
    void refusalsAreCountedByStatus() throws Exception {
        LoadGenerator.Result r = closedLoop("no-such-model", false);
        assertTrue(r.sent() > 0);
        assertEquals(0, r.ok());
        assertEquals(Map.of("HTTP_404", r.sent()), r.errors());
    }
}
