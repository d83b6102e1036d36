package io.meshinfer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code meshinfer deploy}: uploads a model version (with a progress bar in bytes), then
 * waits until every replica of it is ready, showing "replicas ready k/n" and which node
 * each replica runs on, from {@code GET /v1/models/{m}/versions/{v}/placement}.
 */
@Command(name = "deploy",
        description = "Register and place a model version (the ONNX file is uploaded to the gateway node), then"
                + " wait until every replica is ready.")
final class DeployCommand implements Callable<Integer> {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;

    @Mixin
    GatewayOptions gateway;

    @Option(names = "--model", required = true, description = "Model name.")
    String model;

    @Option(names = "--version", required = true, description = "Version name (versions are immutable).")
    String version;

    @Option(names = "--file", required = true, description = "The ONNX file.")
    Path file;

    @Option(names = "--golden", description = "Golden vectors (JSON: {\"inputs\": [tensors], \"outputs\": [tensors],"
            + " \"tolerance\": 1e-4}, tensors as in an inference request) every node must reproduce before it serves"
            + " this version (default: the receiving node records some from random inputs).")
    Path golden;

    @Option(names = "--replicas", description = "Number of replicas (default 1).")
    Integer replicas;

    @Option(names = "--stages", paramLabel = "K", description = "Split the model into K pipeline stages on the node"
            + " that receives it (checked against the whole model first); each stage gets --replicas replicas, placed"
            + " on different nodes where possible.")
    Integer stages;

    @Option(names = "--regions", split = ",", description = "Regions the replicas may run in (default: any).")
    List<String> regions = new ArrayList<>();

    @Option(names = "--max-batch", description = "Most rows per run (default: the node's meshinfer.batching.max-batch).")
    Integer maxBatch;

    @Option(names = "--max-delay-ms", description = "How long a batch may wait to fill (default: the node's, 0).")
    Long maxDelayMs;

    @Option(names = "--wait-seconds", defaultValue = "120",
            description = "How long to wait for every replica to become ready (0: do not wait; default ${DEFAULT-VALUE}).")
    int waitSeconds;

    @Option(names = "--no-wait", description = "Return once the version is registered; do not wait for its replicas.")
    boolean noWait;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(file)) {
            System.err.println("error: " + file + " is not a file");
            return 1;
        }
        if (golden != null && !Files.isRegularFile(golden)) {
            System.err.println("error: " + golden + " is not a file");
            return 1;
        }
        List<String> q = new ArrayList<>();
        if (replicas != null) {
            q.add("replicas=" + replicas);
        }
        if (!regions.isEmpty()) {
            q.add("regions=" + URLEncoder.encode(String.join(",", regions), StandardCharsets.UTF_8));
        }
        if (maxBatch != null) {
            q.add("maxBatch=" + maxBatch);
        }
        if (stages != null) {
            q.add("stages=" + stages);
        }
        if (maxDelayMs != null) {
            q.add("maxDelayMs=" + maxDelayMs);
        }
        String versionPath = "/v1/models/" + enc(model) + "/versions/" + enc(version);
        String path = versionPath + (q.isEmpty() ? "" : "?" + String.join("&", q));
        GatewayClient client = gateway.client();
        long size = Files.size(file);
        System.out.println("uploading " + file + " (" + size + " bytes) to " + client.base());
        GatewayClient.Reply r;
        if (golden != null) {
            r = client.putMultipart(path, "model", file, "golden", Files.readAllBytes(golden));
        } else {
            try (ProgressBar bar = new ProgressBarBuilder().setTaskName("upload").setInitialMax(size)
                    .setUnit(" KiB", 1024).setConsumer(new ConsoleProgressBarConsumer(System.err))
                    .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(200)
                    .showSpeed().continuousUpdate().build()) {
                r = client.putFile(path, file, bar::stepTo);
                bar.stepTo(size);
                bar.setExtraMessage(r.ok() ? " stored" : " refused");
            }
        }
        if (!r.ok()) {
            System.err.println("deploy failed (HTTP " + r.status() + "): " + Cli.errorText(r.body()));
            return 1;
        }
        JsonNode m = MAPPER.readTree(r.body());
        System.out.println("registered " + model + "@" + version + " sha256 " + m.path("sha256").asText()
                + ", " + m.path("replicas").asInt() + " replica(s), batchable: " + m.path("batchable").asBoolean());
        JsonNode g = m.path("golden");
        System.out.println(g.isObject()
                ? "golden vectors: " + g.path("samples").asInt() + " sample(s), " + g.path("source").asText()
                        + ", tolerance " + g.path("tolerance").asText()
                : "golden vectors: none (replicas are not checked for consistency)");
        if (noWait || waitSeconds <= 0) {
            return 0;
        }
        int expected = m.path("replicas").asInt(1) * Math.max(1, m.path("stages").size());
        return awaitReplicas(client, versionPath + "/placement", expected);
    }

    /** Polls the version's placement until every replica is ready, with a progress bar naming the nodes. */
    private int awaitReplicas(GatewayClient client, String placementPath, int expected) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(waitSeconds);
        Placement last = new Placement(0, expected, "no placement yet", "");
        try (ProgressBar bar = new ProgressBarBuilder().setTaskName("replicas ready").setInitialMax(expected)
                .setConsumer(new ConsoleProgressBarConsumer(System.err)).setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(200).continuousUpdate().build()) {
            while (System.nanoTime() < deadline) {
                last = placement(client, placementPath, last);
                bar.maxHint(last.total());
                bar.stepTo(last.ready());
                bar.setExtraMessage(" " + last.nodes());
                if (last.total() > 0 && last.ready() == last.total()) {
                    break;
                }
                TimeUnit.MILLISECONDS.sleep(250); // polling a remote endpoint: nothing to wait on locally
            }
        }
        if (last.total() > 0 && last.ready() == last.total()) {
            System.out.println(model + "@" + version + " is ready: " + last.ready() + "/" + last.total()
                    + " replicas ready (" + last.nodes() + ")");
            return 0;
        }
        System.err.println(model + "@" + version + " was not ready after " + waitSeconds + " s: " + last.ready() + "/"
                + last.total() + " replicas ready (" + last.nodes() + ")"
                + (last.reasons().isEmpty() ? "" : "; waiting: " + last.reasons()) + "; see meshinfer status");
        return 1;
    }

    /** Ready replicas out of the desired count, and "replica: node status" for each. */
    private record Placement(int ready, int total, String nodes, String reasons) {
    }

    private static Placement placement(GatewayClient client, String path, Placement previous) {
        try {
            GatewayClient.Reply r = client.get(path);
            if (!r.ok()) {
                return new Placement(previous.ready(), previous.total(), "HTTP " + r.status() + ": "
                        + Cli.errorText(r.body()), previous.reasons());
            }
            JsonNode n = MAPPER.readTree(r.body());
            List<String> parts = new ArrayList<>();
            java.util.Set<String> reasons = new java.util.LinkedHashSet<>();
            for (JsonNode p : n.path("placement")) {
                String id = p.path("replica").asText();
                String suffix = id.substring(id.lastIndexOf('#'));
                String node = p.path("node").isTextual() ? p.path("node").asText() : "-";
                parts.add(suffix + " " + node + " " + p.path("status").asText());
                if (p.path("reason").isTextual()) {
                    reasons.add(p.path("reason").asText());
                }
            }
            return new Placement(n.path("ready").asInt(), n.path("replicas").asInt(), String.join(", ", parts),
                    String.join("; ", reasons));
        } catch (IOException e) {
            return new Placement(previous.ready(), previous.total(), "cannot read the placement: " + e.getMessage(),
                    previous.reasons());
        }
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}
