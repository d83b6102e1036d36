package io.meshinfer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.meshinfer.testkit.BenchRuns;
import io.meshinfer.testkit.CliRun;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code meshinfer bench run --target cluster} end to end, briefly: against a running node
 * that serves the bench model (exported and deployed as a user would), bench joins the
 * cluster as a client-only member, drives it through the Java client and reports every
 * measured request answered; the serving node's own batch metrics show that it ran them.
 * Speed is reported in BENCHMARKS.md, not checked here.
 */
class BenchClusterTargetTest {
    /** Rows the serving node's replicas have run: the sum of its batch-size histogram. */
    private static final Pattern ROWS = Pattern.compile("(?m)^meshinfer_batch_size_sum\\{[^}]*model=\"bench-mlp\"[^}]*} (\\S+)$");

    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void benchJoinsARunningClusterAsAClientOnlyMemberAndReportsEveryRequestAnswered(@TempDir Path models,
            @TempDir Path out) throws Exception {
        try (TestNode serving = TestNode.start()) {
            Path onnx = models.resolve("mlp.onnx");
            CliRun export = CliRun.of("bench", "export", "--model", "mlp", "--out", onnx.toString());
            assertEquals(0, export.code(), export.out() + export.err());
            CliRun deploy = CliRun.of("deploy", "--gateway", serving.url(), "--model", "bench-mlp", "--version", "1",
                    "--file", onnx.toString());
            assertEquals(0, deploy.code(), deploy.out() + deploy.err());
            double rowsBefore = rowsRun(serving);

            JsonNode report = BenchRuns.run(out, "--model", "mlp", "--target", "cluster", "--seeds",
                    serving.clusterHostPort());
            assertTrue(report.path("header").path("engine").asText().startsWith("cluster via client-only member"),
                    report.path("header").toString());
            long ok = BenchRuns.answeredEvery(report, "engine");
            // the client hosts no replica: the serving node ran at least every measured request
            double rows = rowsRun(serving) - rowsBefore;
            assertTrue(rows >= ok, "the serving node ran " + rows + " rows for " + ok + " measured requests");
        }
    }

    private static double rowsRun(TestNode node) {
        Matcher m = ROWS.matcher(Http.get(node.url() + "/metrics").body());
        double rows = 0;
        while (m.find()) {
            rows += Double.parseDouble(m.group(1));
        }
        return rows;
    }
}
