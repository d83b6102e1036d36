package io.meshinfer.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.meshinfer.api.InferenceException;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.client.InferenceClient;
import io.meshinfer.models.DemoModel;
import io.meshinfer.node.MeshConfig;
import io.meshinfer.node.MeshNode;
import io.meshinfer.node.NodeResources;
import io.meshinfer.runtime.RuntimeSettings;
import io.meshinfer.shard.PooledReplica;
import io.meshinfer.tensor.Tensor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.HdrHistogram.Recorder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code meshinfer demo}: the main job on the embedded demo model. Starts a node, deploys
 * the bundled sensor-health classifier over HTTP, shows one Open Inference Protocol
 * exchange, drives concurrent traffic through the Java client with a progress bar, and
 * prints predictions, a tally (every request answered exactly once) and latency.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run the embedded demo: a local node serving the bundled model, sample traffic, a summary.")
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--requests", defaultValue = "3000", description = "Requests to send (default ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--concurrency", defaultValue = "32", description = "Requests in flight (default ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--http-port", defaultValue = "8080", description = "HTTP port of the demo node (0: any free port).")
    int httpPort;

    @Option(names = "--keep-running", description = "Keep the node up after the traffic until Ctrl-C.")
    boolean keepRunning;

    @Override
    public Integer call() throws Exception {
        System.setProperty("MESHINFER_LOG_LEVEL", System.getProperty("MESHINFER_LOG_LEVEL", "WARN"));
        System.setProperty("MESHINFER_PEKKO_LOG_LEVEL", System.getProperty("MESHINFER_PEKKO_LOG_LEVEL", "WARN"));
        Path dataDir = Files.createTempDirectory("meshinfer-demo");
        Config config = ConfigFactory.parseMap(Map.of(
                        "meshinfer.node.name", "demo-1",
                        "meshinfer.node.region", "eu-west",
                        "meshinfer.node.zone", "eu-west-a",
                        "meshinfer.node.data-dir", dataDir.toString(),
                        "meshinfer.http.port", httpPort,
                        "pekko.remote.artery.canonical.port", 0,
                        "pekko.loglevel", "WARNING"));
        config = MeshConfig.load(config).resolve();
        NodeResources resources = NodeResources.open(RuntimeSettings.fromConfig(config), dataDir);
        MeshNode node = MeshNode.start(config, resources);
        try {
            node.awaitUp(Duration.ofSeconds(60));
            System.out.println("meshinfer demo: node " + node.settings().name() + " up, gateway " + node.httpUrl());
            deploy(node, dataDir);
            showOneHttpRequest(node);
            Summary summary = traffic(node.client());
            summary.print(node);
            System.out.println();
            StatusCommand.print(new com.fasterxml.jackson.databind.ObjectMapper().readTree(
                    new GatewayClient(node.httpUrl()).get("/v1/cluster").body()), System.out);
            System.out.println();
            System.out.println("cluster status: " + node.httpUrl() + "/v1/cluster   "
                    + "(try: scripts/meshinfer status --gateway " + node.httpUrl() + ")");
            if (keepRunning) {
                System.out.println("--keep-running: the node stays up until Ctrl-C");
                node.whenExited().toCompletableFuture().join();
            }
            return summary.unanswered() == 0 && summary.failed() == 0 ? 0 : 1;
        } finally {
            node.shutdown().toCompletableFuture().get(90, TimeUnit.SECONDS);
            resources.close();
            deleteTree(dataDir);
        }
    }

    private static void deploy(MeshNode node, Path dataDir) throws IOException {
        Path model = dataDir.resolve("sensor-health.onnx");
        Files.write(model, DemoModel.load());
        GatewayClient gw = new GatewayClient(node.httpUrl());
        GatewayClient.Reply r = gw.putFile("/v1/models/" + DemoModel.NAME + "/versions/1?replicas=1", model);
        if (!r.ok()) {
            throw new IllegalStateException("deploying the demo model failed: HTTP " + r.status() + " " + r.body());
        }
        System.out.println("deployed " + DemoModel.NAME + "@1 (" + Files.size(model) + " bytes): features[batch,"
                + DemoModel.FEATURES + "] -> probabilities[batch," + DemoModel.CLASSES.size() + "]");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!node.versionReady(DemoModel.NAME, "1")) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the demo model did not become ready: "
                        + node.clusterSnapshot().replicas());
            }
            sleepMillis(50); // polling the replica registry while the model loads
        }
    }

    private static void sleepMillis(long millis) {
        try {
            TimeUnit.MILLISECONDS.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static void showOneHttpRequest(MeshNode node) throws IOException {
        float[] row = DemoModel.sampleFeatures(7);
        StringBuilder data = new StringBuilder();
        for (float v : row) {
            data.append(data.length() == 0 ? "" : ",").append(String.format(Locale.ROOT, "%.3f", v));
        }
        String body = "{\"id\":\"demo-http-1\",\"inputs\":[{\"name\":\"" + DemoModel.INPUT + "\",\"shape\":[1,"
                + DemoModel.FEATURES + "],\"datatype\":\"FP32\",\"data\":[" + data + "]}]}";
        System.out.println();
        System.out.println("POST " + node.httpUrl() + "/v2/models/" + DemoModel.NAME + "/infer");
        System.out.println("  " + body);
        GatewayClient.Reply r = new GatewayClient(node.httpUrl()).postJson("/v2/models/" + DemoModel.NAME + "/infer",
                body.getBytes(StandardCharsets.UTF_8), Duration.ofSeconds(30));
        System.out.println("-> HTTP " + r.status() + " " + r.body());
        System.out.println();
    }

    private Summary traffic(InferenceClient client) throws InterruptedException {
        Summary s = new Summary(requests);
        Semaphore inFlight = new Semaphore(concurrency);
        CountDownLatch finished = new CountDownLatch(requests);
        long start = System.nanoTime();
        try (ProgressBar bar = new ProgressBarBuilder().setTaskName("traffic").setInitialMax(requests)
                .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(200).continuousUpdate().build()) {
            for (int i = 0; i < requests; i++) {
                inFlight.acquire();
                int rows = 1 + (i % 4 == 0 ? 3 : 0);
                float[] data = new float[rows * DemoModel.FEATURES];
                for (int r = 0; r < rows; r++) {
                    System.arraycopy(DemoModel.sampleFeatures(i * 10L + r), 0, data, r * DemoModel.FEATURES,
                            DemoModel.FEATURES);
                }
                InferenceRequest req = InferenceRequest.builder(DemoModel.NAME)
                        .id("demo-" + i)
                        .input(DemoModel.INPUT, Tensor.ofFloats(new long[] {rows, DemoModel.FEATURES}, data))
                        .timeout(Duration.ofSeconds(5))
                        .build();
                long sent = System.nanoTime();
                s.sent.incrementAndGet();
                CompletableFuture<InferenceResponse> f = client.infer(req).toCompletableFuture();
                int index = i;
                f.whenComplete((resp, err) -> {
                    s.record(index, resp, err, System.nanoTime() - sent);
                    inFlight.release();
                    bar.step();
                    finished.countDown();
                });
            }
            if (!finished.await(120, TimeUnit.SECONDS)) {
                System.err.println("some requests were not answered within 120 s");
            }
        }
        s.elapsedNanos = System.nanoTime() - start;
        return s;
    }

    /** Outcomes of the demo traffic: counted, so an unanswered request cannot hide. */
    private static final class Summary {
        final int total;
        final AtomicLong sent = new AtomicLong();
        final AtomicLong succeeded = new AtomicLong();
        final Map<String, AtomicLong> failures = new HashMap<>();
        final Recorder latency = new Recorder(3);
        final Map<Integer, String> samples = new java.util.concurrent.ConcurrentSkipListMap<>();
        long elapsedNanos;

        Summary(int total) {
            this.total = total;
        }

        void record(int index, InferenceResponse resp, Throwable err, long nanos) {
            latency.recordValue(Math.max(1, nanos / 1000));
            if (err == null) {
                succeeded.incrementAndGet();
                if (index < 5) {
                    float[] p = resp.output(DemoModel.OUTPUT).floats();
                    int best = 0;
                    for (int c = 1; c < DemoModel.CLASSES.size(); c++) {
                        best = p[c] > p[best] ? c : best;
                    }
                    samples.put(index, String.format(Locale.ROOT, "request demo-%d -> %s (p=%.3f), batch of %d rows on %s",
                            index, DemoModel.CLASSES.get(best), p[best], resp.batchRows(), resp.node()));
                }
            } else {
                Throwable cause = err instanceof java.util.concurrent.CompletionException && err.getCause() != null
                        ? err.getCause() : err;
                String kind = cause instanceof InferenceException ie ? ie.kind().name() : cause.getClass().getSimpleName();
                synchronized (failures) {
                    failures.computeIfAbsent(kind, k -> new AtomicLong()).incrementAndGet();
                }
            }
        }

        long failed() {
            synchronized (failures) {
                return failures.values().stream().mapToLong(AtomicLong::get).sum();
            }
        }

        long unanswered() {
            return sent.get() - succeeded.get() - failed();
        }

        void print(MeshNode node) {
            System.out.println();
            samples.values().forEach(System.out::println);
            var h = latency.getIntervalHistogram();
            double seconds = elapsedNanos / 1e9;
            long runs = 0;
            long batched = 0;
            for (PooledReplica r : node.pool().all()) {
                runs += r.batcher().stats().runs();
                batched += r.batcher().stats().batchedRequests();
            }
            System.out.println();
            System.out.println("summary");
            System.out.printf(Locale.ROOT, "  requests   sent %d, succeeded %d, failed %d, unanswered %d%n",
                    sent.get(), succeeded.get(), failed(), unanswered());
            synchronized (failures) {
                failures.forEach((k, v) -> System.out.printf("  failed     %s: %d%n", k, v.get()));
            }
            System.out.printf(Locale.ROOT, "  throughput %.0f requests/s over %.1f s%n", sent.get() / seconds, seconds);
            System.out.printf(Locale.ROOT, "  batching   %d model runs, mean batch %.2f requests%n", runs,
                    runs == 0 ? 0.0 : (double) batched / runs);
            System.out.printf(Locale.ROOT, "  latency    p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms%n",
                    h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(90) / 1000.0,
                    h.getValueAtPercentile(99) / 1000.0, h.getMaxValue() / 1000.0);
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            System.err.println("could not remove " + dir + ": " + e.getMessage());
        }
    }
}
