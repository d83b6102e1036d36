package io.meshinfer.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.meshinfer.bench.BenchReport;
import io.meshinfer.bench.BenchTarget;
import io.meshinfer.bench.ClientTarget;
import io.meshinfer.bench.HttpTarget;
import io.meshinfer.bench.LoadGenerator;
import io.meshinfer.bench.RawBaseline;
import io.meshinfer.bench.Sample;
import io.meshinfer.models.BenchModels;
import io.meshinfer.node.MeshConfig;
import io.meshinfer.node.MeshNode;
import io.meshinfer.node.NodeResources;
import io.meshinfer.runtime.RuntimeSettings;
import io.meshinfer.tensor.NamedTensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code meshinfer bench run}: the load generator. Measures a target (an in-process node
 * through the Java client, a running cluster through a client-only member, or any Open
 * Inference Protocol HTTP endpoint) with closed-loop concurrency sweeps or open-loop
 * Poisson rates, next to raw ONNX Runtime baselines run in the same process minutes
 * apart, and writes JSON, Markdown and a latency-against-throughput chart.
 */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Measure throughput and latency against baselines run side by side.")
final class BenchRun implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "mlp",
            description = "Bench model: mlp, cnn or transformer (default ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--target", defaultValue = "inprocess",
            description = "inprocess (a node in this JVM), node (a node process started here, driven over HTTP), cluster"
                    + " (join --seeds as a client-only member), or http"
                    + " (any Open Inference Protocol endpoint at --url). Default ${DEFAULT-VALUE}.")
    String target;

    @Option(names = "--url", description = "Base URL of the HTTP target, e.g. http://127.0.0.1:8080.")
    String url;

    @Option(names = "--model-name", description = "Name of the model on the target (default: the bench model's name).")
    String modelName;

    @Option(names = "--seeds", split = ",", description = "Seed nodes (host:port) of the cluster target.")
    List<String> seeds = new ArrayList<>();

    @Option(names = "--concurrency", split = ",", description = "Closed-loop concurrencies to sweep (default 1,8,32,64"
            + " unless --rate is given).")
    List<Integer> concurrency = new ArrayList<>();

    @Option(names = "--rate", split = ",", description = "Open-loop rates (requests/s, Poisson arrivals) to run.")
    List<Double> rates = new ArrayList<>();

    @Option(names = "--warmup-seconds", defaultValue = "3", description = "Warm-up per measurement"
            + " (default ${DEFAULT-VALUE}); with --warmup-stable-within, the least warm-up.")
    int warmupSeconds;

    @Option(names = "--warmup-stable-within", paramLabel = "PERCENT", description = "Warm up past --warmup-seconds"
            + " until the throughputs of the last 3 warm-up windows of 5 s each lie within PERCENT of their mean"
            + " (e.g. 5) and no longer rise, at most --max-warmup-seconds; each point's report gives the warm-up"
            + " it took.")
    Double warmupStableWithin;

    @Option(names = "--max-warmup-seconds", defaultValue = "180", description = "The longest a"
            + " --warmup-stable-within warm-up runs (default ${DEFAULT-VALUE}).")
    int maxWarmupSeconds;

    @Option(names = "--seconds", defaultValue = "10", description = "Measured time per point (default ${DEFAULT-VALUE}).")
    int seconds;

    @Option(names = "--timeout-ms", defaultValue = "10000", description = "Each request's budget (default ${DEFAULT-VALUE}).")
    long timeoutMs;

    @Option(names = "--max-batch", description = "In-process target: the deploy's maxBatch (default: the node's).")
    Integer maxBatch;

    @Option(names = "--stages", description = "In-process and node targets: also measure the model deployed as a"
            + " pipeline of this many stages (deploy query stages=K), beside the whole model in the same run.")
    Integer stages;

    @Option(names = "--no-baselines", description = "Skip raw ONNX Runtime and the batching-off run.")
    boolean noBaselines;

    @Option(names = "--max-outstanding", defaultValue = "20000",
            description = "Open loop: most requests in flight before sends are counted as GENERATOR_LIMIT.")
    int maxOutstanding;

    @Option(names = "--binary", description = "HTTP targets: send and receive tensors with the binary extension.")
    boolean binary;

    @Option(names = "--identity-baseline", description = "Also measure an identity model with the same inputs on the"
            + " same target (the serving overhead alone).")
    boolean identityBaseline;

    @Option(names = "--node-opt", description = "Extra JVM option for the node process of --target node (repeatable),"
            + " e.g. --node-opt=-Dmeshinfer.runtime.intra-op-threads=2.")
    List<String> nodeOpts = new ArrayList<>();

    @Option(names = "--node-heap", defaultValue = "1g", description = "Heap of the node process of --target node.")
    String nodeHeap;

    @Option(names = "--out", description = "Report directory (default target/bench/<model>-<target>-<time>).")
    Path out;

    private LocalProcesses nodeProcesses;
    private LocalProcesses.Node benchNode;
    private String benchNodeName = "bench-node";
    private final List<String> benchNodeOpts = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        try {
            return runAll();
        } catch (NothingToMeasure e) {
            System.err.println("meshinfer bench: " + e.getMessage());
            return 1;
        }
    }

    /** The target cannot serve the bench's requests at all, so a run would report only errors. */
    private static final class NothingToMeasure extends Exception {
        NothingToMeasure(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * Answers that refuse every request of a series alike (the model is not there, the inputs
     * or the caller are refused); others, such as OVERLOADED while a target warms up, may pass.
     */
    private static final Set<String> REFUSED_FOR_GOOD = Set.of("MODEL_NOT_FOUND", "INVALID_INPUT", "HTTP_400",
            "HTTP_401", "HTTP_403", "HTTP_404", "HTTP_413");

    /**
     * Sends one request before a series, so that a target that refuses it for good (a model
     * not deployed there under that name, inputs it does not take, a token it wants) stops the
     * run with the reason instead of reporting a point made of errors.
     */
    private void preflight(BenchTarget t, List<NamedTensor> first, String series) throws Exception {
        Sample s = t.send(first, timeoutMs).toCompletableFuture().get(timeoutMs + 10_000, TimeUnit.MILLISECONDS);
        if (s.ok() || !REFUSED_FOR_GOOD.contains(s.error())) {
            return;
        }
        String hint = target.equals("cluster") || target.equals("http")
                ? "; the model must be deployed there as '" + nameOnTarget(BenchModels.byName(model), modelName)
                        + "' (--model-name names it; `meshinfer bench export --model " + model + "` writes it)"
                : "";
        throw new NothingToMeasure("the " + series + " series' first request was answered " + s.error() + " by "
                + t.describe() + hint);
    }

    private Integer runAll() throws Exception {
        System.setProperty("MESHINFER_LOG_LEVEL", System.getProperty("MESHINFER_LOG_LEVEL", "WARN"));
        System.setProperty("MESHINFER_PEKKO_LOG_LEVEL", System.getProperty("MESHINFER_PEKKO_LOG_LEVEL", "WARN"));
        BenchModels.BenchModel bm = BenchModels.byName(model);
        String name = nameOnTarget(bm, modelName);
        if (concurrency.isEmpty() && rates.isEmpty()) {
            concurrency = List.of(1, 8, 32, 64);
        }
        List<List<NamedTensor>> inputs = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            inputs.add(bm.randomInputs(1, i));
        }
        BenchReport report = new BenchReport();
        report.header("date", LocalDateTime.now().withNano(0));
        report.header("machine", Runtime.getRuntime().availableProcessors() + " cores, Java "
                + System.getProperty("java.version") + ", " + System.getProperty("os.name"));
        report.header("model", bm.name() + " (" + bm.description() + ")");
        report.header("FLOPs per sample", bm.flopsPerSample());
        report.header("parameter bytes", bm.parameterBytes());
        report.header("target", target + (url != null ? " " + url : ""));
        report.header("warm-up / measured", (warmupStableWithin == null ? warmupSeconds + " s"
                : "at least " + warmupSeconds + " s, then until 3 windows of 5 s agree within " + warmupStableWithin
                        + " % and stop rising (at most " + maxWarmupSeconds + " s)") + " / " + seconds
                + " s per point");

        Path dir = Files.createTempDirectory("meshinfer-bench");
        try {
            if (!noBaselines) {
                raw(bm, inputs, report);
            }
            try (BenchTarget t = openTarget(bm.onnx(), name, dir, "1", maxBatch)) {
                report.header("engine", t.describe());
                measureWithMemory(t, inputs, "engine", report);
            }
            if (stages != null) {
                if (!target.equals("inprocess") && !target.equals("node")) {
                    throw new IllegalArgumentException("--stages needs --target inprocess or node");
                }
                try (BenchTarget t = openTarget(bm.onnx(), name + "-stages", dir, "1", maxBatch, stages)) {
                    measureWithMemory(t, inputs, "pipeline, " + stages + " stages", report);
                }
            }
            if (identityBaseline) {
                try (BenchTarget t = openTarget(BenchModels.identityOf(bm), name + "-identity", dir, "1", maxBatch)) {
                    measureWithMemory(t, inputs, "identity (serving overhead)", report);
                }
            }
            if (!noBaselines && (target.equals("inprocess") || target.equals("node"))) {
                if (target.equals("node")) {
                    // the batching-off baseline measures throughput without batching, not admission
                    // control: over HTTP too it runs without the queued-work limit, on a node of its own
                    replaceLocalNode("bench-node-nobatch", "-Dmeshinfer.batching.max-queue-delay=0ms");
                }
                report.header("batching off", "maxBatch 1, no queued-work limit"
                        + (target.equals("node") ? ", on a node process of its own" : ""));
                try (BenchTarget t = openTarget(bm.onnx(), name, dir, "nobatch", 1)) {
                    List<Integer> saved = concurrency;
                    concurrency = List.of(saved.contains(32) ? 32 : saved.stream().mapToInt(Integer::intValue).max().orElse(32));
                    List<Double> savedRates = rates;
                    rates = List.of();
                    measure(t, inputs, "batching off", report);
                    concurrency = saved;
                    rates = savedRates;
                }
            }
        } finally {
            if (nodeProcesses != null) {
                nodeProcesses.close();
            }
            deleteTree(dir);
        }
        Path outDir = out != null ? out : Path.of("target", "bench", bm.name() + "-" + target + "-"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        report.write(outDir, "meshinfer bench: " + bm.name() + " via " + target);
        System.out.println();
        System.out.println(report.markdown());
        System.out.println("report: " + outDir.toAbsolutePath() + " (report.md, report.json, latency-vs-throughput.png)");
        return 0;
    }

    private void raw(BenchModels.BenchModel bm, List<List<NamedTensor>> inputs, BenchReport report) throws Exception {
        RawBaseline raw = new RawBaseline(bm.onnx());
        Duration d = Duration.ofSeconds(2);
        System.out.println("raw ONNX Runtime baselines (" + bm.name() + ")...");
        for (int batch : new int[] {1, 8, 16, 32, 64}) {
            report.raw(raw.throughput(inputs, batch, 1, 2, d));
            report.raw(raw.throughput(inputs, batch, 2, 1, d));
        }
        // the highest of ten 2 s points is high partly by chance: the baseline is the chosen
        // configuration measured again, as long as a series (at most 20 s)
        RawBaseline.Point highest = report.rawHighest().orElseThrow();
        report.rawBestAgain(raw.throughput(inputs, highest.batch(), highest.threads(), highest.intraOp(),
                Duration.ofSeconds(Math.max(2, Math.min(seconds, 20)))));
        var h = raw.batchOneLatency(inputs, 1, Duration.ofSeconds(3));
        report.rawBatchOneP50Millis(h.getValueAtPercentile(50) / 1000.0);
        System.out.printf(Locale.ROOT, "raw best %.0f samples/s, batch-1 p50 %.3f ms%n", report.rawBest(),
                report.rawBatchOneP50Millis());
    }

    /** {@link #measure}, sampling the node process's memory when there is one. */
    private void measureWithMemory(BenchTarget t, List<List<NamedTensor>> inputs, String series, BenchReport report)
            throws Exception {
        if (benchNode == null) {
            java.lang.management.MemoryMXBean mem = java.lang.management.ManagementFactory.getMemoryMXBean();
            java.util.concurrent.atomic.AtomicLong peak = new java.util.concurrent.atomic.AtomicLong();
            java.util.concurrent.ScheduledExecutorService sampler =
                    java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
            sampler.scheduleAtFixedRate(() -> peak.accumulateAndGet(mem.getHeapMemoryUsage().getUsed(), Math::max),
                    0, 100, TimeUnit.MILLISECONDS);
            try {
                measure(t, inputs, series, report);
            } finally {
                sampler.shutdownNow();
            }
            report.header("peak heap in use during " + series + " (this process, node included)",
                    peak.get() / (1024 * 1024) + " MiB of " + Runtime.getRuntime().maxMemory() / (1024 * 1024) + " MiB");
            return;
        }
        try (RssSampler rss = new RssSampler(benchNode.process().pid());
             HeapSampler heap = new HeapSampler(benchNode.url())) {
            measure(t, inputs, series, report);
            report.header("node peak RSS during " + series, rss.peakMiB() + " MiB (heap limit " + nodeHeap + ")");
            report.header("node heap during " + series, heap.describe());
        }
    }

    private void measure(BenchTarget t, List<List<NamedTensor>> inputs, String series, BenchReport report)
            throws Exception {
        preflight(t, inputs.get(0), series);
        LoadGenerator gen = new LoadGenerator(t, inputs, timeoutMs);
        LoadGenerator.WarmUp warmup = warmUp();
        Duration measured = Duration.ofSeconds(seconds);
        for (int c : concurrency) {
            LoadGenerator.Result r;
            try (ProgressBar bar = bar(series + " c=" + c)) {
                r = gen.closedLoop(c, warmup, measured, stepper(bar));
            }
            report.add(series, r);
            System.out.printf(Locale.ROOT, "  %s c=%d: %.0f req/s, p50 %.3f ms, p99 %.3f ms, errors %s%s%n", series, c,
                    r.throughput(), r.percentileMillis(50), r.percentileMillis(99), r.errors(), warmedUp(r));
        }
        for (double rate : rates) {
            LoadGenerator.Result r;
            try (ProgressBar bar = bar(series + " rate=" + rate)) {
                r = gen.openLoop(rate, warmup, measured, maxOutstanding, stepper(bar));
            }
            report.add(series, r);
            System.out.printf(Locale.ROOT, "  %s rate=%.0f: %.0f req/s ok, p50 %.3f ms, p99 %.3f ms, errors %s,"
                    + " failures answered in p99 %.3f ms%s%n", series, rate, r.throughput(), r.percentileMillis(50),
                    r.percentileMillis(99), r.errors(), r.failurePercentileMillis(99), warmedUp(r));
        }
    }

    private LoadGenerator.WarmUp warmUp() {
        Duration least = Duration.ofSeconds(warmupSeconds);
        if (warmupStableWithin == null) {
            return LoadGenerator.WarmUp.fixed(least);
        }
        if (!(warmupStableWithin > 0 && warmupStableWithin < 100) || maxWarmupSeconds < warmupSeconds) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                    "--warmup-stable-within must be a percentage above 0 and below 100, and --max-warmup-seconds"
                            + " at least --warmup-seconds");
        }
        return LoadGenerator.WarmUp.untilStable(least, warmupStableWithin / 100, Duration.ofSeconds(5),
                Duration.ofSeconds(maxWarmupSeconds));
    }

    /** The warm-up a point took, when it was not fixed. */
    private String warmedUp(LoadGenerator.Result r) {
        return warmupStableWithin == null ? ""
                : String.format(Locale.ROOT, ", after %.0f s of warm-up", r.warmupSeconds());
    }

    private ProgressBar bar(String task) {
        return new ProgressBarBuilder().setTaskName(task).setStyle(ProgressBarStyle.ASCII).setUnit("s", 1)
                .setInitialMax((warmupStableWithin == null ? warmupSeconds : maxWarmupSeconds) + seconds)
                .setUpdateIntervalMillis(500).build();
    }

    /** Moves a time-based bar: elapsed seconds, and the answers counted so far as its message. */
    private static java.util.function.LongConsumer stepper(ProgressBar bar) {
        long start = System.nanoTime();
        return answered -> {
            bar.stepTo(Math.min(bar.getMax(), (System.nanoTime() - start) / 1_000_000_000L));
            bar.setExtraMessage(" " + answered + " measured answers");
        };
    }

    private BenchTarget openTarget(byte[] onnx, String name, Path dir, String version, Integer batch)
            throws Exception {
        return openTarget(onnx, name, dir, version, batch, null);
    }

    /** The model's name on the target: {@code --model-name}, or {@code bench-<model>} as bench deploys it. */
    static String nameOnTarget(BenchModels.BenchModel bm, String modelName) {
        return modelName != null ? modelName : "bench-" + bm.name();
    }

    /** @param split null to deploy the model whole, else the number of pipeline stages */
    private BenchTarget openTarget(byte[] onnx, String name, Path dir, String version, Integer batch, Integer split)
            throws Exception {
        switch (target) {
            case "http" -> {
                if (url == null) {
                    throw new IllegalArgumentException("--target http needs --url");
                }
                return new HttpTarget(url, name, null, binary);
            }
            case "node" -> {
                LocalProcesses.Node n = localNode(dir);
                deployOverHttp(n.url(), onnx, name, version, batch, split, dir);
                return new HttpTarget(n.url(), name, version, binary);
            }
            case "inprocess", "cluster" -> {
                boolean cluster = target.equals("cluster");
                if (cluster && seeds.isEmpty()) {
                    throw new IllegalArgumentException("--target cluster needs --seeds");
                }
                Map<String, Object> o = new HashMap<>();
                o.put("meshinfer.node.name", cluster ? "bench-client" : "bench-node");
                o.put("meshinfer.node.data-dir", dir.resolve("node-" + version).toString());
                o.put("meshinfer.http.port", 0);
                o.put("pekko.remote.artery.canonical.port", 0);
                o.put("pekko.loglevel", "WARNING");
                if ("nobatch".equals(version)) {
                    // the batching-off baseline measures throughput without batching, not admission control
                    o.put("meshinfer.batching.max-queue-delay", "0ms");
                }
                if (cluster) {
                    o.put("meshinfer.node.host-replicas", "off");
                    List<String> s = new ArrayList<>();
                    seeds.forEach(x -> s.add("pekko://meshinfer@" + x));
                    o.put("pekko.cluster.seed-nodes", s);
                }
                Config config = MeshConfig.load(ConfigFactory.parseMap(o)).resolve();
                NodeResources resources = NodeResources.open(RuntimeSettings.fromConfig(config),
                        dir.resolve("node-" + version));
                MeshNode node = MeshNode.start(config, resources);
                AutoCloseable owner = () -> {
                    node.shutdown().toCompletableFuture().get(60, TimeUnit.SECONDS);
                    resources.close();
                };
                node.awaitUp(Duration.ofSeconds(60));
                if (!cluster) {
                    deployOverHttp(node.httpUrl(), onnx, name, version, batch, split, dir);
                }
                return new ClientTarget(node.client(), name, cluster ? null : version,
                        (cluster ? "cluster via client-only member, " + name + " (the versions its traffic split names)"
                                : "in-process node, Java client, " + name + "@" + version)
                                + (batch != null && !cluster ? " maxBatch=" + batch : ""), owner);
            }
            default -> throw new IllegalArgumentException("unknown --target " + target);
        }
    }

    /**
     * Stops the node process of {@code --target node}, if one runs; the next {@link #localNode}
     * starts another, {@code name}, with these JVM options added to the user's.
     */
    private void replaceLocalNode(String name, String... jvmOptions) {
        if (nodeProcesses != null) {
            nodeProcesses.close();
            nodeProcesses = null;
            benchNode = null;
        }
        benchNodeName = name;
        benchNodeOpts.clear();
        benchNodeOpts.addAll(List.of(jvmOptions));
    }

    /** The node process of {@code --target node}, started on first use. */
    private LocalProcesses.Node localNode(Path dir) throws Exception {
        if (nodeProcesses == null) {
            // the systemd unit's collector and initial heap (up to 512 MiB): from 64 MiB, serial GC
            // kept the old generation near 43 MiB and ran a full collection every 2 s under the CNN's
            // load; the parallel collector halves the young pauses that refusals wait behind
            long heap = com.typesafe.config.ConfigFactory.parseString("h = " + nodeHeap).getBytes("h");
            long initialMiB = Math.min(heap, 512L << 20) >> 20;
            List<String> jvm = new ArrayList<>(List.of("-Xms" + initialMiB + "m", "-Xmx" + nodeHeap,
                    "-XX:+UseParallelGC", "-DMESHINFER_LOG_LEVEL=WARN", "-DMESHINFER_PEKKO_LOG_LEVEL=WARN"));
            jvm.addAll(nodeOpts);
            jvm.addAll(benchNodeOpts); // after the user's: the last -D of a key wins
            nodeProcesses = new LocalProcesses(dir, jvm);
            benchNode = nodeProcesses.start(benchNodeName, "bench", "bench-1", List.of());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            while (true) {
                if (!benchNode.process().isAlive()) {
                    throw new IllegalStateException("the bench node exited:\n" + LocalProcesses.tail(benchNode.log(), 30));
                }
                try {
                    if (new GatewayClient(benchNode.url()).get("/v2/health/ready").status() == 200) {
                        break;
                    }
                } catch (IOException notListeningYet) {
                    // the node opens its HTTP port a few seconds after its JVM starts
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the bench node did not become ready; see " + benchNode.log());
                }
                TimeUnit.MILLISECONDS.sleep(200); // polling another process
            }
        }
        return benchNode;
    }

    private static void deployOverHttp(String url, byte[] onnx, String name, String version, Integer batch,
                                       Integer split, Path dir) throws IOException, InterruptedException {
        Path file = dir.resolve(name + "-" + version + ".onnx");
        Files.write(file, onnx);
        GatewayClient gw = new GatewayClient(url);
        List<String> query = new ArrayList<>();
        if (batch != null) {
            query.add("maxBatch=" + batch);
        }
        if (split != null) {
            query.add("stages=" + split);
        }
        GatewayClient.Reply r = gw.putFile("/v1/models/" + name + "/versions/" + version
                + (query.isEmpty() ? "" : "?" + String.join("&", query)), file);
        if (!r.ok()) {
            throw new IllegalStateException("deploy failed: HTTP " + r.status() + " " + r.body());
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (gw.get("/v2/models/" + name + "/versions/" + version + "/ready").status() != 200) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(name + "@" + version + " did not become ready");
            }
            TimeUnit.MILLISECONDS.sleep(100); // polling another process
        }
    }

    /** Samples a process's resident set size until stopped; reports the peak in MiB. */
    private static final class RssSampler implements AutoCloseable {
        private final long pid;
        private volatile boolean running = true;
        private volatile long peakKb;
        private final Thread thread;

        RssSampler(long pid) {
            this.pid = pid;
            this.thread = new Thread(this::loop, "rss-sampler");
            thread.setDaemon(true);
            thread.start();
        }

        private void loop() {
            Path status = Path.of("/proc", String.valueOf(pid), "status");
            while (running) {
                try {
                    for (String line : Files.readAllLines(status)) {
                        if (line.startsWith("VmRSS:")) {
                            peakKb = Math.max(peakKb, Long.parseLong(line.replaceAll("[^0-9]", "")));
                        }
                    }
                    TimeUnit.MILLISECONDS.sleep(200); // sampling interval
                } catch (IOException | InterruptedException | NumberFormatException e) {
                    return; // the process is gone or /proc is unavailable: keep the peak seen
                }
            }
        }

        long peakMiB() {
            return peakKb / 1024;
        }

        @Override
        public void close() {
            running = false;
        }
    }


    /**
     * Samples a node's heap from its {@code /metrics} each second until stopped: the peak in use,
     * and its old generation's first and last use. The old generation grows only by what young
     * collections promote and shrinks only in a full collection, so its growth over a series is
     * what the series left behind.
     */
    static final class HeapSampler implements AutoCloseable {
        private final GatewayClient client;
        private final Thread thread;
        private volatile boolean running = true;
        private volatile long peakBytes = -1;
        private volatile long oldFirst = -1;
        private volatile long oldLast = -1;
        private volatile String problem;

        HeapSampler(String nodeUrl) {
            this.client = new GatewayClient(nodeUrl);
            this.thread = new Thread(this::loop, "heap-sampler");
            thread.setDaemon(true);
            thread.start();
        }

        private void loop() {
            while (running) {
                try {
                    GatewayClient.Reply r = client.get("/metrics");
                    if (r.status() != 200) {
                        problem = "GET /metrics answered " + r.status();
                        return;
                    }
                    sample(r.body());
                    TimeUnit.SECONDS.sleep(1); // sampling interval
                } catch (IOException | InterruptedException e) {
                    return; // the node is gone: keep what was seen
                }
            }
        }

        /** Takes the heap in use and the old generation's use from one scrape. */
        void sample(String metrics) {
            for (String line : metrics.split("\n")) {
                if (line.startsWith("jvm_memory_used_bytes{") && line.contains("area=\"heap\"")) {
                    peakBytes = Math.max(peakBytes, value(line));
                } else if (line.startsWith("jvm_memory_pool_used_bytes{")
                        && (line.contains("Old Gen\"") || line.contains("pool=\"Tenured Gen\""))) {
                    long v = value(line);
                    if (oldFirst < 0) {
                        oldFirst = v;
                    }
                    oldLast = v;
                }
            }
        }

        private static long value(String line) {
            return (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }

        String describe() {
            if (peakBytes < 0) {
                return "not sampled" + (problem == null ? "" : " (" + problem + ")");
            }
            String old = oldFirst < 0 ? "" : "; old generation " + oldFirst / (1024 * 1024) + " MiB at the first sample, "
                    + oldLast / (1024 * 1024) + " MiB at the last";
            return "peak " + peakBytes / (1024 * 1024) + " MiB in use" + old + " (from /metrics each second)";
        }

        @Override
        public void close() {
            running = false;
            thread.interrupt();
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
