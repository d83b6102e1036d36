package io.meshinfer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.gateway.ErrorStatus;
import io.meshinfer.models.DemoModel;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.HdrHistogram.Recorder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code meshinfer demo}: the main job on the embedded demo model. Starts a local
 * three-node cluster (separate JVMs, two regions), deploys the bundled sensor-health
 * classifier with two replicas, drives Open Inference Protocol traffic at the gateways
 * with a progress bar, kills (-9) a node holding a replica a third of the way in, and
 * shows the traffic continuing and the replica moving. Ends with the tally: every
 * request sent is accounted for (succeeded, failed by type, unanswered = 0).
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run the embedded demo: a local 3-node cluster serving the bundled model, traffic, a node"
                + " killed mid-way, a summary.")
final class DemoCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--seconds", defaultValue = "24", description = "How long to send traffic (default ${DEFAULT-VALUE}).")
    int seconds;

    @Option(names = "--concurrency", defaultValue = "16", description = "Requests in flight (default ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--no-kill", description = "Do not kill a node mid-way.")
    boolean noKill;

    @Option(names = "--keep-running", description = "Keep the remaining nodes up after the traffic until Ctrl-C.")
    boolean keepRunning;

    private final long started = System.nanoTime();
    private final List<String> events = new CopyOnWriteArrayList<>();

    @Override
    public Integer call() throws Exception {
        Path dir = Files.createTempDirectory("meshinfer-demo");
        List<String> jvm = List.of("-Xms64m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-XX:ReservedCodeCacheSize=64m",
                // fail over quickly on one machine: detect in about 2 s, down after 5 s of stability
                "-Dmeshinfer.cluster.failure-detector.heartbeat-interval=500ms",
                "-Dmeshinfer.cluster.failure-detector.acceptable-heartbeat-pause=2s",
                "-Dmeshinfer.cluster.split-brain-resolver.stable-after=5s",
                "-Dpekko.coordinated-shutdown.phases.cluster-exiting.timeout=2s",
                "-DMESHINFER_LOG_LEVEL=INFO", "-DMESHINFER_PEKKO_LOG_LEVEL=WARN");
        try (LocalProcesses cluster = new LocalProcesses(dir, jvm)) {
            System.out.println("meshinfer demo: starting a 3-node cluster in 2 regions (logs in " + dir + ")");
            LocalProcesses.Node n1 = cluster.start("demo-1", "eu-west", "eu-west-a", List.of());
            LocalProcesses.Node n2 = cluster.start("demo-2", "eu-west", "eu-west-b", List.of(n1.hostPort()));
            LocalProcesses.Node n3 = cluster.start("demo-3", "us-east", "us-east-a", List.of(n1.hostPort()));
            awaitCluster(cluster, n1, 3);
            System.out.println("dashboard: " + n1.url() + "/ui (every node serves one at /ui)");
            deploy(cluster, n1);
            showOneRequest(n1);
            Summary summary = traffic(cluster, n1);
            summary.print();
            printServed(cluster);
            System.out.println();
            StatusCommand.print(JSON.readTree(new GatewayClient(n1.url()).get("/v1/cluster").body()), System.out);
            if (keepRunning) {
                System.out.println();
                System.out.println("--keep-running: the cluster stays up until Ctrl-C; try");
                System.out.println("  scripts/meshinfer status --gateway " + n1.url());
                System.out.println("  " + n1.url() + "/ui in a browser");
                new CountDownLatch(1).await();
            }
            return summary.unanswered() == 0 ? 0 : 1;
        } finally {
            deleteTree(dir);
        }
    }

    private String at() {
        return String.format(Locale.ROOT, "[%5.1fs]", (System.nanoTime() - started) / 1e9);
    }

    private void event(String what) {
        events.add(at() + " " + what);
    }

    private static JsonNode status(LocalProcesses.Node n) throws IOException {
        GatewayClient.Reply r = new GatewayClient(n.url()).get("/v1/cluster");
        return JSON.readTree(r.body());
    }

    /** A progress bar of how many of {@code max} things are done (members Up, replicas ready). */
    private static ProgressBar countBar(String task, int max) {
        return new ProgressBarBuilder().setTaskName(task).setInitialMax(max).setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(250).continuousUpdate().build();
    }

    private static void awaitCluster(LocalProcesses cluster, LocalProcesses.Node seed, int members)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        try (ProgressBar bar = countBar("members Up", members)) {
            while (true) {
                for (LocalProcesses.Node n : cluster.nodes()) {
                    if (!n.process().isAlive()) {
                        throw new IllegalStateException("node " + n.name() + " exited:\n"
                                + LocalProcesses.tail(n.log(), 30));
                    }
                }
                try {
                    int up = 0;
                    List<String> states = new ArrayList<>();
                    for (JsonNode m : status(seed).path("members")) {
                        up += m.path("status").asText().equals("Up") ? 1 : 0;
                        states.add(m.path("name").asText() + " " + m.path("status").asText());
                    }
                    bar.stepTo(up);
                    bar.setExtraMessage(" " + String.join(", ", states));
                    if (up == members) {
                        break;
                    }
                } catch (IOException notYetListening) {
                    bar.setExtraMessage(" waiting for " + seed.name() + "'s HTTP port");
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the cluster did not form within 120 s; see " + seed.log());
                }
                TimeUnit.MILLISECONDS.sleep(250); // polling other processes
            }
        }
        System.out.println("cluster up: " + members + " members");
    }

    private static Map<String, String> replicaPlacement(JsonNode status) {
        Map<String, String> placement = new TreeMap<>();
        for (JsonNode r : status.path("replicas")) {
            if (r.path("model").asText().equals(DemoModel.NAME)) {
                placement.put("#" + r.path("replica").asText(), r.path("node").asText()
                        + (r.path("ready").asBoolean() ? "" : " (" + r.path("status").asText() + ")"));
            }
        }
        return placement;
    }

    private void deploy(LocalProcesses cluster, LocalProcesses.Node gateway) throws IOException, InterruptedException {
        Path model = Files.createTempFile("sensor-health", ".onnx");
        Files.write(model, DemoModel.load());
        GatewayClient.Reply r = new GatewayClient(gateway.url()).putFile(
                "/v1/models/" + DemoModel.NAME + "/versions/1?replicas=2", model);
        Files.delete(model);
        if (!r.ok()) {
            throw new IllegalStateException("deploying the demo model failed: HTTP " + r.status() + " " + r.body());
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        Map<String, String> placement;
        try (ProgressBar bar = countBar("replicas ready", 2)) {
            while (true) {
                placement = replicaPlacement(status(gateway));
                bar.stepTo(placement.values().stream().filter(v -> !v.contains("(")).count());
                bar.setExtraMessage(" " + placement);
                if (placement.size() == 2 && placement.values().stream().noneMatch(v -> v.contains("("))
                        && placement.values().stream().distinct().count() == 2) {
                    break;
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the demo model did not become ready: " + placement);
                }
                TimeUnit.MILLISECONDS.sleep(250); // polling other processes
            }
        }
        System.out.println("deployed " + DemoModel.NAME + "@1, 2 replicas: " + placement);
    }

    private static String requestBody(String id, long seed, int rows) {
        StringBuilder data = new StringBuilder();
        for (int r = 0; r < rows; r++) {
            for (float v : DemoModel.sampleFeatures(seed * 10 + r)) {
                data.append(data.length() == 0 ? "" : ",").append(String.format(Locale.ROOT, "%.4f", v));
            }
        }
        return "{\"id\":\"" + id + "\",\"parameters\":{\"timeout_ms\":5000},\"inputs\":[{\"name\":\""
                + DemoModel.INPUT + "\",\"shape\":[" + rows + "," + DemoModel.FEATURES
                + "],\"datatype\":\"FP32\",\"data\":[" + data + "]}]}";
    }

    private static void showOneRequest(LocalProcesses.Node n) throws IOException {
        String body = requestBody("demo-http-1", 7, 1);
        System.out.println();
        System.out.println("POST " + n.url() + "/v2/models/" + DemoModel.NAME + "/infer");
        System.out.println("  " + body);
        GatewayClient.Reply r = new GatewayClient(n.url()).postJson("/v2/models/" + DemoModel.NAME + "/infer",
                body.getBytes(StandardCharsets.UTF_8), Duration.ofSeconds(30));
        System.out.println("-> HTTP " + r.status() + " " + r.body());
        System.out.println();
    }

    private Summary traffic(LocalProcesses cluster, LocalProcesses.Node observer) throws Exception {
        Summary s = new Summary();
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        Semaphore inFlight = new Semaphore(concurrency);
        AtomicInteger rr = new AtomicInteger();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        long killAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds) / 3;
        String victim = null;
        Map<String, String> lastPlacement = replicaPlacement(status(observer));
        event("traffic starts; replicas " + lastPlacement);
        long nextPoll = 0;
        List<CompletableFuture<Void>> pending = new CopyOnWriteArrayList<>();
        try (ProgressBar bar = new ProgressBarBuilder().setTaskName("traffic").setInitialMax(seconds)
                .setUnit("s", 1).setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250)
                .continuousUpdate().build()) {
            int i = 0;
            while (System.nanoTime() < end) {
                long now = System.nanoTime();
                bar.stepTo(Math.min(seconds, (int) ((now - (end - TimeUnit.SECONDS.toNanos(seconds))) / 1_000_000_000L)));
                bar.setExtraMessage(String.format(Locale.ROOT, " sent %d ok %d failed %d", s.sent.get(),
                        s.succeeded.get(), s.failed()));
                if (!noKill && victim == null && now > killAt) {
                    victim = pickVictim(lastPlacement);
                    if (victim != null) {
                        cluster.kill(victim);
                        s.killedAtNanos = System.nanoTime();
                        event("kill -9 " + victim + " (it holds a replica)");
                    }
                }
                if (now > nextPoll) {
                    nextPoll = now + TimeUnit.MILLISECONDS.toNanos(300);
                    lastPlacement = observe(observer, lastPlacement, s, victim);
                }
                if (!inFlight.tryAcquire(50, TimeUnit.MILLISECONDS)) {
                    continue;
                }
                String id = "demo-" + i;
                String body = requestBody(id, i, i % 4 == 0 ? 4 : 1);
                i++;
                s.sent.incrementAndGet();
                long sentAt = System.nanoTime();
                CompletableFuture<Void> f = send(http, cluster, rr, body, s, 0, null)
                        .thenAccept(outcome -> s.record(outcome, System.nanoTime() - sentAt))
                        .whenComplete((v, e) -> inFlight.release());
                pending.add(f);
                f.whenComplete((v, e) -> pending.remove(f));
            }
            CompletableFuture.allOf(pending.toArray(new CompletableFuture[0])).get(30, TimeUnit.SECONDS);
            bar.stepTo(seconds);
        }
        event("traffic ends");
        if (victim != null) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (s.replicaBackNanos == 0 && System.nanoTime() < deadline) {
                lastPlacement = observe(observer, lastPlacement, s, victim);
                TimeUnit.MILLISECONDS.sleep(300); // polling other processes
            }
        }
        s.elapsedNanos = System.nanoTime() - (end - TimeUnit.SECONDS.toNanos(seconds));
        return s;
    }

    /** A node other than the seed that holds a replica. */
    private static String pickVictim(Map<String, String> placement) {
        for (String node : placement.values()) {
            if (!node.startsWith("demo-1")) {
                return node.split(" ")[0];
            }
        }
        return null;
    }

    private Map<String, String> observe(LocalProcesses.Node observer, Map<String, String> last, Summary s,
                                        String victim) {
        try {
            JsonNode st = status(observer);
            for (JsonNode m : st.path("members")) {
                String key = m.path("name").asText();
                String state = m.path("status").asText() + (m.path("reachable").asBoolean() ? "" : ", unreachable");
                String before = s.memberStates.put(key, state);
                if (before != null && !before.equals(state)) {
                    event(key + ": " + state);
                }
            }
            Map<String, String> placement = replicaPlacement(st);
            if (!placement.equals(last)) {
                event("replicas " + placement);
                if (victim != null && s.killedAtNanos > 0 && s.replicaBackNanos == 0 && placement.size() == 2
                        && placement.values().stream().noneMatch(v -> v.contains("(") || v.startsWith(victim))) {
                    s.replicaBackNanos = System.nanoTime();
                    event(String.format(Locale.ROOT, "both replicas ready again, %.1f s after the kill",
                            (s.replicaBackNanos - s.killedAtNanos) / 1e9));
                }
            }
            return placement;
        } catch (IOException e) {
            return last;
        }
    }

    /** The terminal outcome of one request: a serving node, or an error kind. */
    private record Outcome(String node, String error) {
    }

    private CompletableFuture<Outcome> send(HttpClient http, LocalProcesses cluster, AtomicInteger rr, String body,
                                            Summary s, int retries, LocalProcesses.Node failed) {
        // the demo's load balancer: round robin over the gateways whose process is alive; a resend
        // avoids the gateway that just failed, whose process may not have been reaped yet
        List<LocalProcesses.Node> alive = cluster.nodes().stream().filter(n -> n.process().isAlive()).toList();
        List<LocalProcesses.Node> others = alive.stream().filter(n -> n != failed).toList();
        List<LocalProcesses.Node> nodes = others.isEmpty() ? alive : others;
        LocalProcesses.Node target = nodes.get(Math.floorMod(rr.getAndIncrement(), nodes.size()));
        HttpRequest req = HttpRequest.newBuilder(URI.create(target.url() + "/v2/models/" + DemoModel.NAME + "/infer"))
                .timeout(Duration.ofSeconds(8)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return http.sendAsync(req, HttpResponse.BodyHandlers.ofString()).handle((r, e) -> {
            if (e == null) {
                if (r.statusCode() == 200) {
                    try {
                        return CompletableFuture.completedFuture(new Outcome(
                                JSON.readTree(r.body()).at("/parameters/node").asText(), null));
                    } catch (IOException bad) {
                        return CompletableFuture.completedFuture(new Outcome(null, "bad response"));
                    }
                }
                return CompletableFuture.completedFuture(new Outcome(null,
                        ErrorStatus.kindOf(r.statusCode()).name()));
            }
            Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            if (cause instanceof IOException && !(cause instanceof HttpTimeoutException) && retries < 3) {
                // the gateway died before or while answering: inference is pure, so resend elsewhere
                s.redirected.incrementAndGet();
                return send(http, cluster, rr, body, s, retries + 1, target);
            }
            return CompletableFuture.completedFuture(new Outcome(null, cause instanceof HttpTimeoutException
                    ? "CLIENT_TIMEOUT" : cause.getClass().getSimpleName()));
        }).thenCompose(f -> f);
    }

    private void printServed(LocalProcesses cluster) {
        System.out.println();
        System.out.println("served per node (each node's own counters):");
        for (LocalProcesses.Node n : cluster.nodes()) {
            if (!n.process().isAlive()) {
                System.out.printf("  %-8s %-8s (killed)%n", n.name(), n.region());
                continue;
            }
            try {
                long count = 0;
                for (JsonNode l : status(n).path("served")) {
                    count += l.path("count").asLong();
                }
                System.out.printf("  %-8s %-8s %d requests%n", n.name(), n.region(), count);
            } catch (IOException e) {
                System.out.printf("  %-8s %-8s (no answer: %s)%n", n.name(), n.region(), e.getMessage());
            }
        }
    }

    /** Outcomes of the demo traffic: counted, so an unanswered request cannot hide. */
    private final class Summary {
        final AtomicLong sent = new AtomicLong();
        final AtomicLong succeeded = new AtomicLong();
        final AtomicLong redirected = new AtomicLong();
        final Map<String, AtomicLong> failures = new ConcurrentHashMap<>();
        final Map<String, AtomicLong> byNode = new ConcurrentHashMap<>();
        final Map<String, String> memberStates = new ConcurrentHashMap<>();
        final Recorder latency = new Recorder(3);
        volatile long killedAtNanos;
        volatile long replicaBackNanos;
        volatile long lastFailureNanos;
        long elapsedNanos;

        void record(Outcome o, long nanos) {
            latency.recordValue(Math.max(1, nanos / 1000));
            if (o.error() == null) {
                succeeded.incrementAndGet();
                byNode.computeIfAbsent(o.node(), k -> new AtomicLong()).incrementAndGet();
            } else {
                failures.computeIfAbsent(o.error(), k -> new AtomicLong()).incrementAndGet();
                lastFailureNanos = System.nanoTime();
            }
        }

        long failed() {
            return failures.values().stream().mapToLong(AtomicLong::get).sum();
        }

        long unanswered() {
            return sent.get() - succeeded.get() - failed();
        }

        void print() {
            System.out.println();
            System.out.println("what happened:");
            events.forEach(e -> System.out.println("  " + e));
            var h = latency.getIntervalHistogram();
            double secs = elapsedNanos / 1e9;
            System.out.println();
            System.out.println("tally");
            System.out.printf(Locale.ROOT, "  sent %d, succeeded %d (%.2f%%), failed %d, unanswered %d%n", sent.get(),
                    succeeded.get(), 100.0 * succeeded.get() / Math.max(1, sent.get()), failed(), unanswered());
            failures.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e ->
                    System.out.printf("  failed     %s: %d%n", e.getKey(), e.getValue().get()));
            if (redirected.get() > 0) {
                System.out.printf("  %d requests lost their gateway (killed) and were resent to another (as a load"
                        + " balancer would; inference is pure)%n", redirected.get());
            }
            List<String> served = new ArrayList<>();
            byNode.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e ->
                    served.add(e.getKey() + " " + e.getValue().get()));
            System.out.println("  served by  " + String.join(", ", served));
            System.out.printf(Locale.ROOT, "  throughput %.0f requests/s over %.1f s%n", sent.get() / secs, secs);
            System.out.printf(Locale.ROOT, "  latency    p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms%n",
                    h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(90) / 1000.0,
                    h.getValueAtPercentile(99) / 1000.0, h.getMaxValue() / 1000.0);
            if (killedAtNanos > 0) {
                System.out.printf(Locale.ROOT, "  failover   replica re-created and ready %s after the kill%n",
                        replicaBackNanos == 0 ? "(not within the demo)"
                                : String.format(Locale.ROOT, "%.1f s", (replicaBackNanos - killedAtNanos) / 1e9));
            }
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
