package io.meshinfer.ensemble;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.api.InferenceException;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.api.Principal;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two real nodes in one JVM, in regions "a" and "b", each hosting different small models
 * (x * w for a different w): ensembles across both regions answer the hand-computed
 * combination of their members' own answers; a residency that excludes a member's region
 * fails the request with {@code missing = fail} and is answered from the rest, naming the
 * missing member, with {@code partial}; bad definitions are refused with 400, 404 or 409.
 */
class EnsembleServingTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final float[] X = {1, 2, 3, 4};
    private static TestNode a;
    private static TestNode b;

    @BeforeAll
    static void start() {
        // no admission limit: a burst of 200 at one replica per member must queue, not be
        // refused because a slow machine's run times make the queue look long
        Map<String, Object> queueAll = Map.of("meshinfer.batching.max-queue-delay", "0ms");
        a = TestNode.inRegion("node-a", "a", null, queueAll);
        b = TestNode.inRegion("node-b", "b", a, queueAll);
        await().atMost(Duration.ofSeconds(30)).until(() -> a.upMembers() == 2 && b.upMembers() == 2);
        deploy("ens-m1", "a", 1, 2, 3, 4);
        deploy("ens-m2", "b", 4, 3, 2, 1);
        deploy("ens-m3", "a", 0, 0, 9, 0);
        await().atMost(Duration.ofSeconds(60)).until(() -> ready("ens-m1") && ready("ens-m2") && ready("ens-m3"));
    }

    @AfterAll
    static void stop() {
        b.close();
        a.close();
    }

    private static void deploy(String model, String region, float... w) {
        Http.Reply r = Http.put(a.url() + "/v1/models/" + model + "/versions/1?regions=" + region,
                TestModels.scaled(w));
        assertEquals(201, r.status(), r.body());
    }

    private static boolean ready(String model) {
        return Http.get(a.url() + "/v2/models/" + model + "/ready").status() == 200
                && Http.get(b.url() + "/v2/models/" + model + "/ready").status() == 200;
    }

    private static Http.Reply define(String name, String version, String spec) {
        Http.Reply r = send("PUT", a.url() + "/v1/ensembles/" + name + "/versions/" + version, spec);
        if (r.status() == 201) {
            // the catalog reaches the other node by replication
            await().atMost(Duration.ofSeconds(10)).until(() ->
                    Http.get(b.url() + "/v2/models/" + name + "/versions/" + version).status() == 200);
        }
        return r;
    }

    private static Http.Reply send(String method, String url, String body) {
        try {
            var request = HttpRequest.newBuilder(URI.create(url))
                    .header("Content-Type", "application/json")
                    .method(method, HttpRequest.BodyPublishers.ofString(body));
            var r = HttpClient.newHttpClient().send(request.build(), HttpResponse.BodyHandlers.ofString());
            return new Http.Reply(r.statusCode(), r.body());
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A member's own answer to {@link #X}, straight from the member model. */
    private static float[] own(String model) throws Exception {
        InferenceResponse r = a.node().client().infer(InferenceRequest.builder(model)
                .input("x", Tensor.ofFloats(new long[] {1, 4}, X)).timeout(Duration.ofSeconds(10)).build())
                .toCompletableFuture().get(20, TimeUnit.SECONDS);
        return r.output("y").floats();
    }

    private static Http.Reply infer(TestNode via, String model, String residency) {
        String params = residency == null ? "" : ", \"parameters\": {\"residency\": [\"" + residency + "\"]}";
        return Http.post(via.url() + "/v2/models/" + model + "/infer", "{\"inputs\": [{\"name\": \"x\", \"shape\":"
                + " [1, 4], \"datatype\": \"FP32\", \"data\": [1, 2, 3, 4]}]" + params + "}");
    }

    private static double[] data(JsonNode answer) {
        JsonNode d = answer.get("outputs").get(0).get("data");
        double[] out = new double[d.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = d.get(i).asDouble();
        }
        return out;
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    @Test
    void combinationsEqualTheHandComputedCombinationOfTheMembersOwnAnswers() throws Exception {
        float[] m1 = own("ens-m1");
        float[] m2 = own("ens-m2");
        float[] m3 = own("ens-m3");
        assertEquals(201, define("ens-mean", "1", "{\"members\": [{\"model\": \"ens-m1\"}, {\"model\": \"ens-m2\","
                + " \"version\": \"1\"}], \"combine\": \"mean\"}").status());
        assertEquals(201, define("ens-wmean", "1", "{\"members\": [{\"model\": \"ens-m1\", \"weight\": 1},"
                + " {\"model\": \"ens-m2\", \"weight\": 3}], \"combine\": \"weighted_mean\"}").status());
        assertEquals(201, define("ens-vote", "1", "{\"members\": [{\"model\": \"ens-m1\"}, {\"model\": \"ens-m2\"},"
                + " {\"model\": \"ens-m3\"}, {\"model\": \"ens-m1\"}], \"combine\": \"vote\"}").status());
        assertEquals(201, define("ens-cat", "1", "{\"members\": [{\"model\": \"ens-m2\"}, {\"model\": \"ens-m1\"}],"
                + " \"combine\": \"concat\"}").status());

        int sent = 0;
        int answered = 0;
        for (TestNode via : List.of(a, b)) {
            sent += 4;
            Http.Reply mean = infer(via, "ens-mean", null);
            assertEquals(200, mean.status(), mean.body());
            JsonNode meanJson = JSON.readTree(mean.body());
            assertEquals("ens-mean", meanJson.get("model_name").asText());
            assertEquals(List.of("ens-m1@1", "ens-m2@1"), texts(meanJson.get("parameters").get("ensemble_members")));
            assertEquals(List.of(), texts(meanJson.get("parameters").get("ensemble_missing")));
            double[] got = data(meanJson);
            for (int i = 0; i < 4; i++) {
                assertEquals((m1[i] + m2[i]) / 2.0, got[i], 1e-6, "mean, element " + i);
            }
            answered++;

            double[] weighted = data(JSON.readTree(infer(via, "ens-wmean", null).body()));
            for (int i = 0; i < 4; i++) {
                assertEquals((1 * m1[i] + 3 * m2[i]) / 4.0, weighted[i], 1e-5, "weighted mean, element " + i);
            }
            answered++;

            // argmaxes: m1 = [1,4,9,16] -> 3, m2 = [4,6,6,4] -> 1 (first of equal scores), m3 = [0,0,27,0] -> 2;
            // m1 votes twice, so 3 wins
            JsonNode vote = JSON.readTree(infer(via, "ens-vote", null).body());
            assertEquals("INT64", vote.get("outputs").get(0).get("datatype").asText());
            assertEquals(3, vote.get("outputs").get(0).get("data").get(0).asLong());
            answered++;

            double[] cat = data(JSON.readTree(infer(via, "ens-cat", null).body()));
            assertEquals(8, cat.length);
            for (int i = 0; i < 4; i++) {
                assertEquals(m2[i], cat[i], 0, "concat, m2 first");
                assertEquals(m1[i], cat[4 + i], 0, "concat, then m1");
            }
            answered++;
        }
        assertEquals(sent, answered);

        JsonNode meta = JSON.readTree(Http.get(b.url() + "/v2/models/ens-cat").body());
        assertEquals("ensemble", meta.get("platform").asText());
        assertEquals(8, meta.get("outputs").get(0).get("shape").get(1).asInt());
        assertEquals(200, Http.get(b.url() + "/v2/models/ens-mean/ready").status());
        assertTrue(Http.get(a.url() + "/metrics").body().contains(
                "meshinfer_ensemble_member_total{member=\"ens-m2\",model=\"ens-mean\",node=\"node-a\",outcome=\"ok\"}"));
    }

    @Test
    void concurrentRequestsFromBothNodesAreEachAnsweredOnce() throws Exception {
        assertEquals(201, define("ens-load", "1", "{\"members\": [{\"model\": \"ens-m1\"}, {\"model\": \"ens-m2\"},"
                + " {\"model\": \"ens-m3\"}], \"combine\": \"mean\"}").status());
        List<CompletableFuture<InferenceResponse>> answers = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            TestNode via = i % 2 == 0 ? a : b;
            answers.add(via.node().client().infer(InferenceRequest.builder("ens-load")
                    .input("x", Tensor.ofFloats(new long[] {1, 4}, X)).timeout(Duration.ofSeconds(20)).build())
                    .toCompletableFuture());
        }
        CompletableFuture.allOf(answers.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        float[] first = answers.get(0).get().output("y").floats();
        for (CompletableFuture<InferenceResponse> f : answers) {
            InferenceResponse r = f.get();
            assertEquals(3, r.ensemble().answered().size());
            assertEquals(List.of(), r.ensemble().missing());
            assertEquals(first[3], r.output("y").floats()[3], 0);
        }
        assertEquals(200, answers.size());
    }

    @Test
    void residencyExcludingAMemberFailsOrAnswersPartiallyByPolicy() throws Exception {
        assertEquals(201, define("ens-fail", "1", "{\"members\": [{\"model\": \"ens-m1\"}, {\"model\": \"ens-m2\"}],"
                + " \"combine\": \"mean\", \"missing\": \"fail\"}").status());
        assertEquals(201, define("ens-partial", "1", "{\"members\": [{\"model\": \"ens-m1\"}, {\"model\":"
                + " \"ens-m2\"}], \"combine\": \"mean\", \"missing\": \"partial\", \"min_members\": 1}").status());
        assertEquals(201, define("ens-two", "1", "{\"members\": [{\"model\": \"ens-m1\"}, {\"model\": \"ens-m2\"}],"
                + " \"combine\": \"mean\", \"missing\": \"partial\", \"min_members\": 2}").status());

        for (TestNode via : List.of(a, b)) {
            Http.Reply failed = infer(via, "ens-fail", "a");
            assertEquals(403, failed.status(), failed.body());
            String error = JSON.readTree(failed.body()).get("error").asText();
            assertTrue(error.contains("ens-m2") && error.contains("RESIDENCY_VIOLATION"), error);

            Http.Reply partial = infer(via, "ens-partial", "a");
            assertEquals(200, partial.status(), partial.body());
            JsonNode p = JSON.readTree(partial.body());
            assertEquals(List.of("ens-m1@1"), texts(p.get("parameters").get("ensemble_members")));
            List<String> missing = texts(p.get("parameters").get("ensemble_missing"));
            assertEquals(1, missing.size());
            assertTrue(missing.get(0).startsWith("ens-m2: RESIDENCY_VIOLATION"), missing.get(0));
            float[] m1 = own("ens-m1");
            double[] got = data(p);
            for (int i = 0; i < 4; i++) {
                assertEquals(m1[i], got[i], 0, "the mean of the one member that answered");
            }

            Http.Reply tooFew = infer(via, "ens-two", "b");
            assertEquals(403, tooFew.status(), tooFew.body());
            assertTrue(tooFew.body().contains("fewer than min_members 2"), tooFew.body());
        }
    }

    @Test
    void badDefinitionsAreRefusedWithClearErrors() throws Exception {
        String ok = "{\"members\": [{\"model\": \"ens-m1\"}], \"combine\": \"mean\"}";
        Http.Reply missingMember = define("ens-bad", "1", "{\"members\": [{\"model\": \"nobody\"}],"
                + " \"combine\": \"mean\"}");
        assertEquals(404, missingMember.status());
        assertTrue(missingMember.body().contains("member model 'nobody' is not deployed"), missingMember.body());
        Http.Reply missingVersion = define("ens-bad", "1", "{\"members\": [{\"model\": \"ens-m1\", \"version\":"
                + " \"7\"}], \"combine\": \"mean\"}");
        assertEquals(404, missingVersion.status(), missingVersion.body());
        Http.Reply badCombine = define("ens-bad", "1", "{\"members\": [{\"model\": \"ens-m1\"}], \"combine\": \"max\"}");
        assertEquals(400, badCombine.status());
        assertTrue(badCombine.body().contains("combine must be one of"), badCombine.body());
        Http.Reply badWeight = define("ens-bad", "1", "{\"members\": [{\"model\": \"ens-m1\", \"weight\": -1}],"
                + " \"combine\": \"weighted_mean\"}");
        assertEquals(400, badWeight.status());
        assertTrue(badWeight.body().contains("positive and finite"), badWeight.body());
        assertEquals(400, define("ens-bad", "1", "{\"members\": [], \"combine\": \"mean\"}").status());
        assertEquals(400, define("ens-bad", "1", "{\"members\": [{\"model\": \"ens-m1\"}], \"combine\": \"mean\","
                + " \"missing\": \"partial\", \"min_members\": 2}").status());

        assertEquals(201, Http.put(a.url() + "/v1/models/ens-other/versions/1", TestModels.noBatchAxis()).status());
        Http.Reply unfit = define("ens-bad", "1", "{\"members\": [{\"model\": \"ens-m1\"}, {\"model\":"
                + " \"ens-other\"}], \"combine\": \"mean\"}");
        assertEquals(400, unfit.status());
        assertTrue(unfit.body().contains("ens-other"), unfit.body());

        assertEquals(201, define("ens-base", "1", ok).status());
        assertEquals(200, define("ens-base", "1", ok).status(), "the same definition again is idempotent");
        Http.Reply changed = define("ens-base", "1", "{\"members\": [{\"model\": \"ens-m2\"}], \"combine\": \"mean\"}");
        assertEquals(409, changed.status());
        Http.Reply self = define("ens-base", "2", "{\"members\": [{\"model\": \"ens-base\"}], \"combine\": \"mean\"}");
        assertEquals(400, self.status());
        assertTrue(self.body().contains("cannot be its own member"), self.body());
        Http.Reply nested = define("ens-nest", "1", "{\"members\": [{\"model\": \"ens-base\"}], \"combine\": \"mean\"}");
        assertEquals(400, nested.status());
        assertTrue(nested.body().contains("ensembles do not nest"), nested.body());
        Http.Reply clash = define("ens-m1", "2", ok.replace("ens-m1", "ens-m2"));
        assertEquals(409, clash.status());
        assertTrue(clash.body().contains("needs a name of its own"), clash.body());
        Http.Reply onnxOnEnsemble = Http.put(a.url() + "/v1/models/ens-base/versions/9", TestModels.mlp());
        assertEquals(409, onnxOnEnsemble.status(), onnxOnEnsemble.body());

        assertEquals(404, send("DELETE", a.url() + "/v1/ensembles/ens-base/versions/5", "").status());
        assertEquals(400, send("DELETE", a.url() + "/v1/ensembles/ens-m1/versions/1", "").status());
        assertEquals(200, send("DELETE", a.url() + "/v1/ensembles/ens-base/versions/1", "").status());
        await().atMost(Duration.ofSeconds(10)).until(() -> infer(b, "ens-base", null).status() == 404);
    }

    @Test
    void aMemberAnEnsembleNeedsCannotBeUndeployed() throws Exception {
        assertEquals(201, Http.put(a.url() + "/v1/models/ens-g/versions/1?regions=a", TestModels.scaled(1, 1, 1, 1))
                .status());
        assertEquals(201, Http.put(a.url() + "/v1/models/ens-g/versions/2?regions=a", TestModels.scaled(2, 2, 2, 2))
                .status());
        assertEquals(201, define("ens-guarded", "1", "{\"members\": [{\"model\": \"ens-g\", \"version\": \"1\"},"
                + " {\"model\": \"ens-m3\"}], \"combine\": \"mean\"}").status());

        // the pinned version, and the last version of an unpinned member, are refused by name
        Http.Reply pinned = Http.delete(a.url() + "/v1/models/ens-g/versions/1");
        assertEquals(409, pinned.status(), pinned.body());
        assertTrue(pinned.body().contains("ens-guarded@1") && pinned.body().contains("undeploy"), pinned.body());
        Http.Reply last = Http.delete(b.url() + "/v1/models/ens-m3/versions/1");
        assertEquals(409, last.status(), last.body());
        assertTrue(last.body().contains("ens-guarded@1"), last.body());
        assertEquals(200, Http.get(a.url() + "/v2/models/ens-g/versions/1").status(), "nothing was removed");

        // a version no ensemble names goes; once the ensemble is gone, so does its member
        assertEquals(200, Http.delete(a.url() + "/v1/models/ens-g/versions/2").status());
        assertEquals(200, send("DELETE", a.url() + "/v1/ensembles/ens-guarded/versions/1", "").status());
        Http.Reply freed = Http.delete(a.url() + "/v1/models/ens-g/versions/1");
        assertEquals(200, freed.status(), freed.body());
        assertEquals(200, infer(a, "ens-m3", null).status(), "the unpinned member stays");
    }

    @Test
    void membersAreCheckedAgainstTheCallersToken() throws Exception {
        assertEquals(201, define("ens-auth", "1", "{\"members\": [{\"model\": \"ens-m1\"}, {\"model\": \"ens-m3\"}],"
                + " \"combine\": \"mean\"}").status());
        Principal onlyTheEnsemble = new Principal("alice", Set.of(),
                Set.of("ens-auth"), Set.of("*"), "t1");
        var refused = assertThrows(ExecutionException.class,
                () -> a.node().client().infer(InferenceRequest.builder("ens-auth").principal(onlyTheEnsemble)
                        .input("x", Tensor.ofFloats(new long[] {1, 4}, X)).timeout(Duration.ofSeconds(10)).build())
                        .toCompletableFuture().get(20, TimeUnit.SECONDS));
        assertTrue(refused.getCause() instanceof InferenceException.PermissionDenied,
                String.valueOf(refused.getCause()));
        assertTrue(refused.getCause().getMessage().contains("does not allow model 'ens-m1'"),
                refused.getCause().getMessage());
        Principal allowed = new Principal("bob", Set.of(),
                Set.of("ens-auth", "ens-m1", "ens-m3"), Set.of("a"), "t2");
        InferenceResponse r = b.node().client().infer(InferenceRequest.builder("ens-auth").principal(allowed)
                .input("x", Tensor.ofFloats(new long[] {1, 4}, X)).timeout(Duration.ofSeconds(10)).build())
                .toCompletableFuture().get(20, TimeUnit.SECONDS);
        assertEquals(List.of("ens-m1@1", "ens-m3@1"), r.ensemble().answered());
    }
}
