package io.meshinfer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import io.meshinfer.testkit.CliRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI commands against a real node, as a user runs them. */
class CliTest {
    private static TestNode node;

    @BeforeAll
    static void start() {
        node = TestNode.start();
    }

    @AfterAll
    static void stop() {
        node.close();
    }

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void everyCommandHasHelp() {
        for (String cmd : new String[] {"node", "deploy", "infer", "status", "demo", "ensemble"}) {
            CliRun r = run(cmd, "--help");
            assertEquals(0, r.code(), cmd);
            assertTrue(r.out().contains("Usage: meshinfer " + cmd), r.out());
        }
        assertEquals(2, run("deploy").code(), "missing required options is a usage error");
    }

    @Test
    void ensembleDeployAndRemoveWorkAgainstANode() {
        assertEquals(201, io.meshinfer.testkit.Http.put(node.url() + "/v1/models/cli-member/versions/1",
                TestModels.mlp()).status());
        CliRun deployed = run("ensemble", "deploy", "--gateway", node.url(), "--name", "cli-ens", "--version", "1",
                "--member", "cli-member@1:2.0", "--member", "cli-member", "--combine", "weighted_mean",
                "--missing", "partial", "--min-members", "1");
        assertEquals(0, deployed.code(), deployed.err());
        assertTrue(deployed.out().contains("ensemble cli-ens@1: weighted_mean of 2 members, missing partial"),
                deployed.out());
        String spec = io.meshinfer.testkit.Http.get(node.url() + "/v1/ensembles").body();
        assertTrue(spec.contains("\"version\":\"1\",\"weight\":2.0"), spec);
        CliRun refused = run("ensemble", "deploy", "--gateway", node.url(), "--name", "cli-ens2", "--version", "1",
                "--member", "nobody", "--combine", "mean");
        assertEquals(1, refused.code());
        assertTrue(refused.err().contains("HTTP 404") && refused.err().contains("nobody"), refused.err());
        assertEquals(2, run("ensemble", "deploy", "--gateway", node.url(), "--name", "x", "--version", "1",
                "--member", "a:heavy", "--combine", "mean").code(), "a weight that is not a number");
        CliRun removed = run("ensemble", "remove", "--gateway", node.url(), "--name", "cli-ens", "--version", "1");
        assertEquals(0, removed.code(), removed.err());
        assertTrue(removed.out().contains("removed ensemble cli-ens@1"), removed.out());
    }

    @Test
    void deployInferAndStatusWorkAgainstANode(@TempDir Path dir) throws Exception {
        Path model = dir.resolve("mlp.onnx");
        Files.write(model, TestModels.mlp());
        CliRun deployed = run("deploy", "--gateway", node.url(), "--model", "cli-mlp", "--version", "3",
                "--file", model.toString(), "--replicas", "1", "--max-batch", "8");
        assertEquals(0, deployed.code(), deployed.err());
        assertTrue(deployed.out().contains("cli-mlp@3 is ready: 1/1 replicas ready (#0 test-node ready)"),
                deployed.out());
        assertTrue(deployed.err().contains("upload"), "upload progress bar: " + deployed.err());
        assertTrue(deployed.err().contains("replicas ready"), "replica progress bar: " + deployed.err());
        assertTrue(deployed.err().contains("1/1"), deployed.err());

        Path request = dir.resolve("request.json");
        Files.writeString(request, "{\"id\":\"cli-1\",\"inputs\":[{\"name\":\"x\",\"shape\":[1,4],"
                + "\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]}");
        CliRun inferred = run("infer", "--gateway", node.url(), "--model", "cli-mlp", "--input", request.toString());
        assertEquals(0, inferred.code(), inferred.err());
        assertTrue(inferred.out().contains("\"id\" : \"cli-1\""), inferred.out());
        assertTrue(inferred.out().contains("\"model_version\" : \"3\""), inferred.out());
        assertTrue(inferred.err().matches("(?s).*traceparent: 00-[0-9a-f]{32}-[0-9a-f]{16}-01.*"), inferred.err());

        String caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        CliRun traced = run("infer", "--gateway", node.url(), "--model", "cli-mlp", "--input", request.toString(),
                "--traceparent", caller);
        assertEquals(0, traced.code(), traced.err());
        assertTrue(traced.err().contains("traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-"),
                "the caller's trace continues: " + traced.err());
        assertFalse(traced.err().contains("00f067aa0ba902b7"), "with the node's own span: " + traced.err());

        CliRun status = run("status", "--gateway", node.url());
        assertEquals(0, status.code(), status.err());
        assertTrue(status.out().contains("cli-mlp@3#0"), status.out());
        assertTrue(status.out().contains("3=100%"), status.out());
    }

    @Test
    void deployWithGoldenVectorsAndStatusShowsTheAttestation(@TempDir Path dir) throws Exception {
        Path model = dir.resolve("mlp.onnx");
        Files.write(model, TestModels.mlp());
        float[] x = {1, 2, 3, 4};
        float[] y = TestModels.mlpReference(x, 1);
        Path golden = dir.resolve("golden.json");
        Files.writeString(golden, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,4],\"datatype\":\"FP32\","
                + "\"data\":[1,2,3,4]}],\"outputs\":[{\"name\":\"y\",\"shape\":[1,3],\"datatype\":\"FP32\","
                + "\"data\":[" + y[0] + "," + y[1] + "," + y[2] + "]}],\"tolerance\":0.001}");
        CliRun deployed = run("deploy", "--gateway", node.url(), "--model", "cli-golden", "--version", "1",
                "--file", model.toString(), "--golden", golden.toString());
        assertEquals(0, deployed.code(), deployed.err());
        assertTrue(deployed.out().contains("golden vectors: 1 sample(s), supplied, tolerance 0.001"), deployed.out());
        assertTrue(deployed.out().contains("cli-golden@1 is ready"), deployed.out());

        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() ->
                run("status", "--gateway", node.url()).out().matches("(?s).*cli-golden@1 +yes +1/1 +-.*"));

        Files.writeString(golden, Files.readString(golden).replace("[1,2,3,4]", "[4,3,2,1]"));
        CliRun refused = run("deploy", "--gateway", node.url(), "--model", "cli-golden", "--version", "2",
                "--file", model.toString(), "--golden", golden.toString());
        assertEquals(1, refused.code());
        assertTrue(refused.err().contains("HTTP 400"), refused.err());
        assertTrue(refused.err().contains("does not reproduce the supplied golden vectors"), refused.err());
    }

    @Test
    void failuresAreReportedWithTheGatewaysMessageAndExitCode1(@TempDir Path dir) throws Exception {
        Path bad = dir.resolve("bad.onnx");
        Files.writeString(bad, "not a model");
        CliRun deployed = run("deploy", "--gateway", node.url(), "--model", "bad", "--version", "1",
                "--file", bad.toString());
        assertEquals(1, deployed.code());
        assertTrue(deployed.err().contains("HTTP 400"), deployed.err());
        assertTrue(deployed.err().contains("not a valid ONNX model"), deployed.err());

        Path request = dir.resolve("request.json");
        Files.writeString(request, "{\"inputs\":[]}");
        CliRun inferred = run("infer", "--gateway", node.url(), "--model", "nobody", "--input", request.toString());
        assertEquals(1, inferred.code());
        assertTrue(inferred.err().contains("model 'nobody' is not deployed"), inferred.err());
    }

    @Test
    void deployWithNoWaitReturnsOnceRegistered(@TempDir Path dir) throws Exception {
        Path model = dir.resolve("mlp.onnx");
        Files.write(model, TestModels.mlp());
        CliRun deployed = run("deploy", "--gateway", node.url(), "--model", "cli-nowait", "--version", "1",
                "--file", model.toString(), "--no-wait");
        assertEquals(0, deployed.code(), deployed.err());
        assertTrue(deployed.out().contains("registered cli-nowait@1"), deployed.out());
        assertTrue(!deployed.out().contains("is ready") && !deployed.err().contains("replicas ready"),
                deployed.out() + deployed.err());
    }
}
