package io.meshinfer.client;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.api.ErrorKind;
import io.meshinfer.api.InferenceException;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.models.BenchModels;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Java client against a real node whose replicas are deliberately small (one run at
 * a time, a queue of 16, no batching) so overload and deadlines can be provoked; every
 * request sent is counted against the answers received.
 */
class InferenceClientTest {
    private static final BenchModels.BenchModel CNN = BenchModels.cnn();
    private static TestNode node;
    private static InferenceClient client;

    @BeforeAll
    static void start() {
        node = TestNode.start(Map.of(
                "meshinfer.batching.queue-capacity", 16,
                "meshinfer.batching.concurrent-runs", 1,
                "meshinfer.batching.max-batch", 1,
                "meshinfer.batching.max-queue-delay", "0ms",
                "meshinfer.runtime-dispatcher.spinning-executor.pool-size", 1));
        client = node.node().client();
        deploy("mlp", TestModels.mlp());
        deploy("cnn", CNN.onnx());
    }

    @AfterAll
    static void stop() {
        node.close();
    }

    private static void deploy(String model, byte[] onnx) {
        assertEquals(201, Http.put(node.url() + "/v1/models/" + model + "/versions/1", onnx).status());
        await().atMost(Duration.ofSeconds(60)).until(() -> node.node().versionReady(model, "1"));
    }

    private static InferenceException failure(CompletableFuture<?> f) {
        CompletionException e = org.junit.jupiter.api.Assertions.assertThrows(CompletionException.class,
                () -> f.orTimeout(30, TimeUnit.SECONDS).join());
        return assertInstanceOf(InferenceException.class, e.getCause());
    }

    @Test
    void answersWithTheModelsOutput() {
        float[] x = {1, 2, 3, 4, -1, -2, -3, -4};
        InferenceResponse r = client.infer(InferenceRequest.builder("mlp")
                        .id("c-1").input("x", Tensor.ofFloats(new long[] {2, 4}, x)).build())
                .toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join();
        assertEquals("c-1", r.id());
        assertEquals("1", r.version());
        assertArrayEquals(TestModels.mlpReference(x, 2), r.output("y").floats(), 1e-6f);
    }

    @Test
    void unknownModelIsATypedModelNotFound() {
        InferenceException e = failure(client.infer(InferenceRequest.builder("absent")
                .input("x", Tensor.ofFloats(new long[] {1, 4}, 1, 2, 3, 4)).build()).toCompletableFuture());
        assertInstanceOf(InferenceException.ModelNotFound.class, e);
        assertEquals("model 'absent' is not deployed", e.getMessage());
    }

    @Test
    void badInputIsATypedInvalidInput() {
        InferenceException e = failure(client.infer(InferenceRequest.builder("mlp")
                .input("x", Tensor.ofLongs(new long[] {1, 4}, 1, 2, 3, 4)).build()).toCompletableFuture());
        assertInstanceOf(InferenceException.InvalidInput.class, e);
        assertEquals("input 'x': datatype INT64 does not match the model's FP32", e.getMessage());
    }

    @Test
    void aFloodIsAnsweredOverloadedAndEveryRequestGetsExactlyOneAnswer() {
        int n = 200;
        List<CompletableFuture<InferenceResponse>> futures = new ArrayList<>();
        AtomicInteger completions = new AtomicInteger();
        for (int i = 0; i < n; i++) {
            CompletableFuture<InferenceResponse> f = client.infer(InferenceRequest.builder("cnn")
                    .inputs(CNN.randomInputs(1, i)).timeout(Duration.ofSeconds(30)).build())
                    .toCompletableFuture();
            f.whenComplete((r, e) -> completions.incrementAndGet());
            futures.add(f);
        }
        Map<ErrorKind, Integer> outcomes = tally(futures);
        assertEquals(n, completions.get(), "every request completes exactly once");
        assertEquals(n, outcomes.values().stream().mapToInt(Integer::intValue).sum());
        assertTrue(outcomes.getOrDefault(ErrorKind.OVERLOADED, 0) > 0, outcomes.toString());
        assertTrue(outcomes.getOrDefault(null, 0) >= 16, "at least a queue's worth succeeds: " + outcomes);
        assertEquals(n, outcomes.getOrDefault(ErrorKind.OVERLOADED, 0) + outcomes.getOrDefault(null, 0),
                "nothing but successes and overload: " + outcomes);
    }

    @Test
    void requestsWhoseDeadlinePassInTheQueueAreAnsweredDeadlineExceeded() {
        // a 64-image request keeps the single run slot busy for far longer than 20 ms
        CompletableFuture<InferenceResponse> blocker = client.infer(InferenceRequest.builder("cnn")
                .inputs(CNN.randomInputs(64, 99)).timeout(Duration.ofSeconds(60)).build()).toCompletableFuture();
        int n = 12;
        List<CompletableFuture<InferenceResponse>> futures = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            futures.add(client.infer(InferenceRequest.builder("cnn")
                    .inputs(CNN.randomInputs(1, i)).timeout(Duration.ofMillis(20)).build())
                    .toCompletableFuture());
        }
        Map<ErrorKind, Integer> outcomes = tally(futures);
        assertEquals(Map.of(ErrorKind.DEADLINE_EXCEEDED, n), outcomes);
        assertEquals(64, blocker.orTimeout(60, TimeUnit.SECONDS).join().output("logits").dim(0));
    }

    @Test
    void theStreamingFlowTurnsOverloadIntoBackpressureAndLosesNothing() {
        int n = 300;
        List<InferenceClient.Outcome> outcomes = org.apache.pekko.stream.javadsl.Source.range(1, n)
                .map(i -> InferenceRequest.builder("cnn").id("s-" + i).inputs(CNN.randomInputs(1, i))
                        .timeout(Duration.ofSeconds(60)).build())
                .via(client.flow(64))
                .runWith(org.apache.pekko.stream.javadsl.Sink.seq(), node.node().clusterSystem())
                .toCompletableFuture().orTimeout(120, TimeUnit.SECONDS).join();
        assertEquals(n, outcomes.size());
        for (int i = 0; i < n; i++) {
            InferenceClient.Outcome o = outcomes.get(i);
            assertEquals("s-" + (i + 1), o.id(), "outcomes come in request order");
            assertTrue(o.succeeded(), () -> "request " + o.id() + " failed: " + o.error());
        }
    }

    /** Waits for every future; counts successes under the null key and failures by kind. */
    private static Map<ErrorKind, Integer> tally(List<CompletableFuture<InferenceResponse>> futures) {
        Map<ErrorKind, Integer> outcomes = new java.util.HashMap<>();
        for (CompletableFuture<InferenceResponse> f : futures) {
            try {
                f.orTimeout(60, TimeUnit.SECONDS).join();
                outcomes.merge(null, 1, Integer::sum);
            } catch (CompletionException e) {
                InferenceException ie = assertInstanceOf(InferenceException.class, e.getCause());
                outcomes.merge(ie.kind(), 1, Integer::sum);
            }
        }
        return outcomes;
    }

}
