package io.meshinfer.rollout;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.api.InferenceException;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.client.InferenceClient;
import io.meshinfer.models.DemoModel;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Rollouts on a real one-node cluster (the rollout manager singleton, real sessions,
 * real traffic through the Java client), counting every request.
 */
class RolloutTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static TestNode node;

    @BeforeAll
    static void start() {
        node = TestNode.start(Map.of("meshinfer.node.name", "rollout-node",
                "meshinfer.rollout.tick-interval", "200ms"));
    }

    @AfterAll
    static void stop() {
        node.close();
    }

    private static void deploy(String model, String version, byte[] onnx) {
        Http.Reply r = Http.put(node.url() + "/v1/models/" + model + "/versions/" + version, onnx);
        assertEquals(201, r.status(), r.body());
        await().atMost(Duration.ofSeconds(30)).until(() -> node.node().versionReady(model, version));
    }

    private static JsonNode rollout(String model) throws Exception {
        Http.Reply r = Http.get(node.url() + "/v1/models/" + model + "/rollout");
        assertEquals(200, r.status(), r.body());
        return MAPPER.readTree(r.body());
    }

    private static Http.Reply start(String model, String spec) {
        return Http.post(node.url() + "/v1/models/" + model + "/rollout", spec);
    }

    /** Unpinned requests from 4 concurrent callers until stopped; every request counted. */
    static final class Load implements AutoCloseable {
        final AtomicLong sent = new AtomicLong();
        final AtomicLong answered = new AtomicLong();
        final Map<String, AtomicLong> byVersion = new ConcurrentHashMap<>();
        final Map<String, AtomicLong> failures = new ConcurrentHashMap<>();
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final Thread thread;

        Load(InferenceClient client, String model) {
            Semaphore permits = new Semaphore(4);
            thread = new Thread(() -> {
                long i = 0;
                while (running.get()) {
                    try {
                        if (!permits.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                            continue;
                        }
                    } catch (InterruptedException e) {
                        return;
                    }
                    InferenceRequest req = InferenceRequest.builder(model).timeout(Duration.ofSeconds(10))
                            .input(DemoModel.INPUT, Tensor.ofFloats(new long[] {1, DemoModel.FEATURES},
                                    DemoModel.sampleFeatures(i++))).build();
                    sent.incrementAndGet();
                    client.infer(req).whenComplete((r, e) -> {
                        answered.incrementAndGet();
                        if (e == null) {
                            byVersion.computeIfAbsent(r.version(), k -> new AtomicLong()).incrementAndGet();
                        } else {
                            Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                            String kind = c instanceof InferenceException ie ? ie.kind().name() : c.toString();
                            failures.computeIfAbsent(kind, k -> new AtomicLong()).incrementAndGet();
                        }
                        permits.release();
                    });
                }
            }, "rollout-load");
            thread.start();
        }

        long failed() {
            return failures.values().stream().mapToLong(AtomicLong::get).sum();
        }

        @Override
        public void close() {
            running.set(false);
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            await().atMost(Duration.ofSeconds(15)).until(() -> answered.get() == sent.get());
        }
    }

    private static List<Integer> appliedSteps(JsonNode status) {
        List<Integer> steps = new ArrayList<>();
        for (JsonNode e : status.path("history")) {
            if (e.path("event").asText().startsWith("step ")) {
                steps.add(e.path("step").asInt());
            }
        }
        return steps;
    }

    @Test
    void canaryUnderLoadCompletesWithoutAFailedRequest() throws Exception {
        deploy("canary", "1", DemoModel.build());
        deploy("canary", "2", DemoModel.build(7));
        Load load = new Load(node.node().client(), "canary");
        try (load) {
            Http.Reply r = start("canary", "{\"to\":\"2\",\"strategy\":\"canary\",\"steps\":[20,60,100],"
                    + "\"stepSeconds\":0.5,\"gates\":{\"minRequests\":5,\"maxP99Ratio\":null}}");
            assertEquals(202, r.status(), r.body());
            await().atMost(Duration.ofSeconds(60)).until(() -> rollout("canary").path("state").asText(),
                    s -> !s.equals("running"));
        }
        JsonNode s = rollout("canary");
        assertEquals("completed", s.path("state").asText(), s.toString());
        assertEquals(100, s.path("weights").path("2").asInt());
        assertTrue(s.path("weights").path("1").isMissingNode(), s.toString());
        assertEquals(List.of(1, 2, 3), appliedSteps(s), "each step applied once, in order: " + s);
        assertEquals(load.sent.get(), load.answered.get());
        assertEquals(0, load.failed(), "failures: " + load.failures);
        assertTrue(load.byVersion.containsKey("2") && load.byVersion.containsKey("1"), load.byVersion.toString());
        InferenceResponse after = node.node().client().infer(InferenceRequest.builder("canary")
                .input(DemoModel.INPUT, Tensor.ofFloats(new long[] {1, DemoModel.FEATURES}, DemoModel.sampleFeatures(1)))
                .build()).toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertEquals("2", after.version());
    }

    @Test
    void aFailingVersionIsRolledBackAndItsFailuresStayWithinTheCanaryShare() throws Exception {
        deploy("faulty", "1", DemoModel.build());
        deploy("faulty", "2", DemoModel.failing());
        Load load = new Load(node.node().client(), "faulty");
        try (load) {
            Http.Reply r = start("faulty", "{\"to\":\"2\",\"steps\":[10,50,100],\"stepSeconds\":5,"
                    + "\"gates\":{\"maxErrorRate\":0.05,\"minRequests\":10}}");
            assertEquals(202, r.status(), r.body());
            await().atMost(Duration.ofSeconds(60)).until(() -> rollout("faulty").path("state").asText(),
                    s -> !s.equals("running"));
        }
        JsonNode s = rollout("faulty");
        assertEquals("rolled_back", s.path("state").asText(), s.toString());
        assertTrue(s.path("reason").asText().contains("error rate"), s.path("reason").asText());
        assertEquals(Map.of("1", 100), MAPPER.convertValue(s.path("weights"), Map.class));
        assertEquals(List.of(1), appliedSteps(s), "rolled back during the first step: " + s);
        assertEquals(load.sent.get(), load.answered.get());
        assertEquals(load.failed(), load.failures.getOrDefault("MODEL_FAILED", new AtomicLong()).get(),
                "only the faulty version's own failures: " + load.failures);
        // bounded by the canary share: 10% of the traffic while it ran, plus one tick's worth
        assertTrue(load.failed() <= 0.1 * load.sent.get() + 40, load.failed() + " failed of " + load.sent.get());
        assertTrue(load.failed() >= 10, "the gate needed at least minRequests failures to judge");
    }

    @Test
    void pipelineVersionsRollOutLikeWholeModels() throws Exception {
        assertEquals(201, Http.put(node.url() + "/v1/models/piped/versions/1?stages=2", DemoModel.build()).status());
        assertEquals(201, Http.put(node.url() + "/v1/models/piped/versions/2?stages=2", DemoModel.build(7)).status());
        await().atMost(Duration.ofSeconds(30)).until(() -> node.node().versionReady("piped", "1")
                && node.node().versionReady("piped", "2"));
        Load load = new Load(node.node().client(), "piped");
        try (load) {
            Http.Reply r = start("piped", "{\"to\":\"2\",\"strategy\":\"canary\",\"steps\":[50,100],"
                    + "\"stepSeconds\":0.5,\"gates\":{\"minRequests\":5,\"maxP99Ratio\":null}}");
            assertEquals(202, r.status(), r.body());
            await().atMost(Duration.ofSeconds(60)).until(() -> rollout("piped").path("state").asText(),
                    s -> !s.equals("running"));
        }
        JsonNode s = rollout("piped");
        assertEquals("completed", s.path("state").asText(), s.toString());
        assertEquals(List.of(1, 2), appliedSteps(s), s.toString());
        assertEquals(load.sent.get(), load.answered.get());
        assertEquals(0, load.failed(), "failures: " + load.failures);
        assertTrue(load.byVersion.containsKey("1") && load.byVersion.containsKey("2"), load.byVersion.toString());

        // a shadow rollout to pipeline version 3 (other weights) compares the chained answers and rolls back
        assertEquals(201, Http.put(node.url() + "/v1/models/piped/versions/3?stages=2", DemoModel.build(99)).status());
        await().atMost(Duration.ofSeconds(30)).until(() -> node.node().versionReady("piped", "3"));
        Load shadowLoad = new Load(node.node().client(), "piped");
        try (shadowLoad) {
            Http.Reply r = start("piped", "{\"to\":\"3\",\"strategy\":\"shadow\",\"steps\":[50,100],"
                    + "\"stepSeconds\":5,\"gates\":{\"minAgreement\":0.99,\"minRequests\":20}}");
            assertEquals(202, r.status(), r.body());
            await().atMost(Duration.ofSeconds(60)).until(() -> rollout("piped").path("state").asText(),
                    st -> !st.equals("running"));
        }
        JsonNode shadow = rollout("piped");
        assertEquals("rolled_back", shadow.path("state").asText(), shadow.toString());
        assertTrue(shadow.path("reason").asText().contains("agreed"), shadow.path("reason").asText());
        assertEquals(0, shadowLoad.failed(), "failures: " + shadowLoad.failures);
        assertEquals(shadowLoad.sent.get(), shadowLoad.byVersion.get("2").get(), shadowLoad.byVersion.toString());
    }

    @Test
    void ensembleVersionsRollOutLikeModels() throws Exception {
        deploy("member-a", "1", DemoModel.build());
        deploy("member-b", "1", DemoModel.build(7));
        String one = "{\"members\": [{\"model\": \"member-a\"}], \"combine\": \"mean\"}";
        String two = "{\"members\": [{\"model\": \"member-a\"}, {\"model\": \"member-b\"}], \"combine\": \"mean\"}";
        for (String[] v : new String[][] {{"1", one}, {"2", two}}) {
            Http.Reply r = Http.putJson(node.url() + "/v1/ensembles/combo/versions/" + v[0], v[1]);
            assertEquals(201, r.status(), r.body());
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> Http.get(node.url() + "/v2/models/combo/ready").status() == 200);
        Load load = new Load(node.node().client(), "combo");
        try (load) {
            Http.Reply r = start("combo", "{\"to\":\"2\",\"strategy\":\"canary\",\"steps\":[50,100],"
                    + "\"stepSeconds\":0.5,\"gates\":{\"minRequests\":5,\"maxP99Ratio\":null}}");
            assertEquals(202, r.status(), r.body());
            await().atMost(Duration.ofSeconds(60)).until(() -> rollout("combo").path("state").asText(),
                    s -> !s.equals("running"));
        }
        JsonNode s = rollout("combo");
        assertEquals("completed", s.path("state").asText(), s.toString());
        assertEquals(load.sent.get(), load.answered.get());
        assertEquals(0, load.failed(), "failures: " + load.failures);
        assertTrue(load.byVersion.containsKey("1") && load.byVersion.containsKey("2"), load.byVersion.toString());
    }

    @Test
    void shadowComparesAnswersWithoutReturningThemAndRollsBackOnDisagreement() throws Exception {
        deploy("shadowed", "1", DemoModel.build());
        deploy("shadowed", "2", DemoModel.build(99)); // other weights: other classes
        Load load = new Load(node.node().client(), "shadowed");
        try (load) {
            Http.Reply r = start("shadowed", "{\"to\":\"2\",\"strategy\":\"shadow\",\"steps\":[50,100],"
                    + "\"stepSeconds\":5,\"gates\":{\"minAgreement\":0.99,\"minRequests\":20}}");
            assertEquals(202, r.status(), r.body());
            await().atMost(Duration.ofSeconds(60)).until(() -> rollout("shadowed").path("state").asText(),
                    s -> !s.equals("running"));
        }
        JsonNode s = rollout("shadowed");
        assertEquals("rolled_back", s.path("state").asText(), s.toString());
        assertTrue(s.path("reason").asText().contains("agreed"), s.path("reason").asText());
        assertEquals(0, load.failed(), "shadow answers are never returned: " + load.failures);
        assertEquals(Map.of("1", load.answered.get()), Map.of("1", load.byVersion.get("1").get()),
                "every caller was answered by the serving version: " + load.byVersion);
    }

    @Test
    void shadowOfAnIdenticalVersionCompletesAndSwitchesTraffic() throws Exception {
        deploy("twin", "1", DemoModel.build());
        deploy("twin", "2", DemoModel.build()); // same weights (same content, new version)
        Load load = new Load(node.node().client(), "twin");
        try (load) {
            assertEquals(202, start("twin", "{\"to\":\"2\",\"strategy\":\"shadow\",\"steps\":[100],"
                    + "\"stepSeconds\":0.5,\"gates\":{\"maxAbsDiff\":1e-6,\"minRequests\":10}}").status());
            await().atMost(Duration.ofSeconds(60)).until(() -> rollout("twin").path("state").asText(),
                    s -> !s.equals("running"));
        }
        JsonNode s = rollout("twin");
        assertEquals("completed", s.path("state").asText(), s.toString());
        assertEquals(100, s.path("weights").path("2").asInt());
        assertEquals(0, load.failed(), load.failures.toString());
    }

    @Test
    void operatorCommandsPauseResumeAndPromote() throws Exception {
        deploy("steered", "1", DemoModel.build());
        deploy("steered", "2", DemoModel.build(3));
        assertEquals(202, start("steered", "{\"to\":\"2\",\"steps\":[10,100],\"stepSeconds\":600}").status());
        await().atMost(Duration.ofSeconds(30)).until(() -> rollout("steered").path("step").asInt() == 1);
        assertEquals(Map.of("1", 90, "2", 10), MAPPER.convertValue(rollout("steered").path("weights"), Map.class));

        Http.Reply again = start("steered", "{\"to\":\"2\"}");
        assertEquals(409, again.status(), again.body());
        assertTrue(again.body().contains("already running"), again.body());

        Http.Reply paused = Http.post(node.url() + "/v1/models/steered/rollout/pause", "");
        assertEquals(200, paused.status(), paused.body());
        assertEquals("paused", rollout("steered").path("state").asText());
        assertEquals(200, Http.post(node.url() + "/v1/models/steered/rollout/resume", "").status());
        assertEquals("running", rollout("steered").path("state").asText());

        // a pinned request ignores the weights
        InferenceResponse pinned = node.node().client().infer(InferenceRequest.builder("steered").version("2")
                .input(DemoModel.INPUT, Tensor.ofFloats(new long[] {1, DemoModel.FEATURES}, DemoModel.sampleFeatures(2)))
                .build()).toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertEquals("2", pinned.version());

        Http.Reply undeploy = Http.delete(node.url() + "/v1/models/steered/versions/1");
        assertEquals(409, undeploy.status(), undeploy.body());
        assertTrue(undeploy.body().contains("abort or finish it first"), undeploy.body());

        Http.Reply promoted = Http.post(node.url() + "/v1/models/steered/rollout/promote", "");
        assertEquals(200, promoted.status(), promoted.body());
        JsonNode s = rollout("steered");
        assertEquals("completed", s.path("state").asText());
        assertEquals(Map.of("2", 100), MAPPER.convertValue(s.path("weights"), Map.class));
        assertTrue(s.path("reason").asText().startsWith("promoted by"), s.toString());
        Http.Reply none = Http.post(node.url() + "/v1/models/steered/rollout/abort", "");
        assertEquals(409, none.status(), none.body());
    }

    @Test
    void abortGivesTheTrafficBack() throws Exception {
        deploy("aborted", "1", DemoModel.build());
        deploy("aborted", "2", DemoModel.build(5));
        assertEquals(202, start("aborted", "{\"to\":\"2\",\"steps\":[50,100],\"stepSeconds\":600}").status());
        await().atMost(Duration.ofSeconds(30)).until(() -> rollout("aborted").path("step").asInt() == 1);
        assertEquals(200, Http.post(node.url() + "/v1/models/aborted/rollout/abort", "").status());
        JsonNode s = rollout("aborted");
        assertEquals("rolled_back", s.path("state").asText());
        assertEquals("aborted by anonymous", s.path("reason").asText());
        assertEquals(Map.of("1", 100), MAPPER.convertValue(s.path("weights"), Map.class));
    }

    @Test
    void badSpecsAndUnknownTargetsGetPreciseErrors() {
        deploy("specs", "1", DemoModel.build());
        String url = node.url() + "/v1/models/specs/rollout";
        assertError(Http.post(url, "{\"to\":\"9\"}"), 404, "version '9' of model 'specs' is not deployed");
        assertError(Http.post(url, "{\"to\":\"1\"}"), 409, "already takes all traffic");
        assertError(Http.post(url, "{\"to\":\"1\",\"strategy\":\"big-bang\"}"), 400, "unknown strategy 'big-bang'");
        assertError(Http.post(url, "{\"to\":\"1\",\"steps\":[50,20,100]}"), 400, "strictly increasing");
        assertError(Http.post(url, "{\"to\":\"1\",\"steps\":[5,25]}"), 400, "last step must be 100");
        assertError(Http.post(url, "{\"to\":\"1\",\"speed\":3}"), 400, "unknown field");
        assertError(Http.post(url, "{\"to\":\"1\",\"gates\":{\"maxErrorRate\":7}}"), 400, "maxErrorRate");
        assertError(Http.post(url, "{\"to\":\"1\",\"strategy\":\"shadow\",\"gates\":{\"minAgreement\":null}}"), 400,
                "needs minAgreement or maxAbsDiff");
        assertError(Http.post(url, "{not json"), 400, "not valid JSON");
        assertError(Http.post(node.url() + "/v1/models/nothing/rollout", "{\"to\":\"1\"}"), 404,
                "model 'nothing' is not deployed");
        assertError(Http.get(url), 404, "has had no rollout");
        assertError(Http.post(url + "/explode", ""), 404, "unknown rollout command 'explode'");
    }

    private static void assertError(Http.Reply r, int status, String fragment) {
        assertEquals(status, r.status(), r.body());
        assertTrue(r.body().contains(fragment), r.body());
    }

    @Test
    void blueGreenSwitchesAllTrafficAtOnceWhenEveryReplicaIsReady() throws Exception {
        deploy("bluegreen", "blue", DemoModel.build());
        deploy("bluegreen", "green", DemoModel.build(11));
        Load load = new Load(node.node().client(), "bluegreen");
        try (load) {
            assertEquals(202, start("bluegreen", "{\"to\":\"green\",\"strategy\":\"blue-green\",\"stepSeconds\":0.5,"
                    + "\"gates\":{\"minRequests\":5,\"maxP99Ratio\":null}}").status());
            await().atMost(Duration.ofSeconds(60)).until(() -> rollout("bluegreen").path("state").asText(),
                    s -> !s.equals("running"));
        }
        JsonNode s = rollout("bluegreen");
        assertEquals("completed", s.path("state").asText(), s.toString());
        assertEquals(List.of(1), appliedSteps(s));
        assertEquals(Map.of("green", 100), MAPPER.convertValue(s.path("weights"), Map.class));
        assertEquals(0, load.failed(), load.failures.toString());
    }
}
