package io.meshinfer.multijvm;

import static io.meshinfer.multijvm.Scenarios.MODEL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.meshinfer.models.DemoModel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 5, 7: kill -9 the rollout manager singleton's node in the middle of a canary
 * under load. The singleton restarts on another node from the replicated catalog and the
 * rollout completes; no step is applied twice or skipped; every request is answered.
 */
class SingletonFailoverScenario {
    private static final Pattern MANAGER = Pattern.compile("\\(manager ([^)]+)\\)");

    @RegisterExtension
    final ClusterHarness cluster = new ClusterHarness(SingletonFailoverScenario.class);

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void rolloutResumesOnTheNewSingletonAndCompletes() {
        ScenarioReport report = cluster.report();
        cluster.startNodes(Scenarios.nodes("n1", "n2", "n3"));
        cluster.deploy(MODEL, "1", DemoModel.load(), 2, List.of(), 0);
        cluster.deploy(MODEL, "2", DemoModel.build(7), 2, List.of(), 0);
        cluster.awaitReplicas(MODEL, "1", 2, Duration.ofSeconds(60));
        cluster.awaitReplicas(MODEL, "2", 2, Duration.ofSeconds(60));

        JsonNode started = Rollouts.start(cluster, "n2", MODEL, "{\"to\":\"2\",\"steps\":[10,30,60,100],"
                + "\"stepSeconds\":6,\"gates\":{\"maxErrorRate\":0.05,\"maxP99Ratio\":null,\"minRequests\":5}}");
        String manager = managers(started).get(0);
        List<String> others = new ArrayList<>(Scenarios.without(cluster.names(), manager));
        report.line("rollout manager runs on %s", manager);
        // the load enters through the two nodes that stay, as a load balancer would after the kill
        LoadDriver load = LoadDriver.builder("load", cluster.gateways(others.toArray(new String[0])))
                .ratePerSecond(25).threads(8).start();

        Rollouts.awaitStatus(cluster, others.get(0), MODEL, "at step 2", s -> s.path("step").asInt() >= 2,
                Duration.ofSeconds(90));
        double killedAt = load.now();
        report.line("killing %s (the manager) at step 2, load +%.1fs", manager, killedAt / 1000);
        cluster.kill(manager);

        JsonNode done = Rollouts.awaitFinished(cluster, others.get(0), MODEL, Duration.ofSeconds(150));
        Scenarios.hold(Duration.ofSeconds(2));
        LoadResult result = load.stop();
        report.load(result);
        report.line("served by version: %s; managers in the history: %s", result.servedByVersion(), managers(done));

        assertEquals("completed", done.path("state").asText(), done.toString());
        assertEquals(List.of(1, 2, 3, 4), Rollouts.appliedSteps(done), "no step twice, none skipped: " + done);
        List<String> managers = managers(done);
        String successor = managers.get(managers.size() - 1);
        assertFalse(successor.equals(manager), "a new manager finished it: " + managers);
        assertTrue(Set.copyOf(others).contains(successor), successor);
        assertEquals(0, result.unanswered(), result.summary());
        assertEquals(List.of(), result.untypedFailures(), result.summary());
        assertTrue(result.successRate() >= 0.99, result.summary());
        JsonNode seen = Rollouts.awaitFinished(cluster, others.get(1), MODEL, Duration.ofSeconds(30));
        assertEquals("completed", seen.path("state").asText());
    }

    /** The managers named in the rollout's history, in order. */
    private static List<String> managers(JsonNode status) {
        List<String> out = new ArrayList<>();
        for (JsonNode e : status.path("history")) {
            Matcher m = MANAGER.matcher(e.path("event").asText());
            if (m.find()) {
                out.add(m.group(1));
            }
        }
        return out;
    }
}
