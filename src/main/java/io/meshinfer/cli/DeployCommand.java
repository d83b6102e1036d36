package io.meshinfer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code meshinfer deploy}: uploads a model version and waits until it is ready to serve. */
@Command(name = "deploy",
        description = "Register and place a model version (the ONNX file is uploaded to the gateway node).")
final class DeployCommand implements Callable<Integer> {
    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;

    @Option(names = "--gateway", required = true, description = "A node's HTTP address, e.g. http://127.0.0.1:8080.")
    String gateway;

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

    @Option(names = "--regions", split = ",", description = "Regions the replicas may run in (default: any).")
    List<String> regions = new ArrayList<>();

    @Option(names = "--max-batch", description = "Most rows per run (default: the node's meshinfer.batching.max-batch).")
    Integer maxBatch;

    @Option(names = "--max-delay-ms", description = "How long a batch may wait to fill (default: the node's, 0).")
    Long maxDelayMs;

    @Option(names = "--wait-seconds", defaultValue = "120",
            description = "How long to wait for the version to become ready (0: do not wait; default ${DEFAULT-VALUE}).")
    int waitSeconds;

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
        if (maxDelayMs != null) {
            q.add("maxDelayMs=" + maxDelayMs);
        }
        String path = "/v1/models/" + enc(model) + "/versions/" + enc(version) + (q.isEmpty() ? "" : "?" + String.join("&", q));
        GatewayClient client = new GatewayClient(gateway);
        System.out.println("uploading " + file + " (" + Files.size(file) + " bytes) to " + client.base());
        GatewayClient.Reply r = golden == null ? client.putFile(path, file)
                : client.putMultipart(path, "model", file, "golden", Files.readAllBytes(golden));
        if (!r.ok()) {
            System.err.println("deploy failed (HTTP " + r.status() + "): " + Cli.errorText(r.body()));
            return 1;
        }
        JsonNode m = new ObjectMapper().readTree(r.body());
        System.out.println("registered " + model + "@" + version + " sha256 " + m.path("sha256").asText()
                + ", " + m.path("replicas").asInt() + " replica(s), batchable: " + m.path("batchable").asBoolean());
        JsonNode g = m.path("golden");
        System.out.println(g.isObject()
                ? "golden vectors: " + g.path("samples").asInt() + " sample(s), " + g.path("source").asText()
                        + ", tolerance " + g.path("tolerance").asText()
                : "golden vectors: none (replicas are not checked for consistency)");
        if (waitSeconds <= 0) {
            return 0;
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(waitSeconds);
        String ready = "/v2/models/" + enc(model) + "/versions/" + enc(version) + "/ready";
        while (System.nanoTime() < deadline) {
            if (client.get(ready).status() == 200) {
                System.out.println(model + "@" + version + " is ready");
                return 0;
            }
            System.out.print(".");
            System.out.flush();
            TimeUnit.MILLISECONDS.sleep(250); // polling a remote endpoint: nothing to wait on locally
        }
        System.err.println("\n" + model + "@" + version + " was not ready after " + waitSeconds + " s; see meshinfer status");
        return 1;
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}
