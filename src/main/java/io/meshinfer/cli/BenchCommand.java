package io.meshinfer.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.bench.HttpTarget;
import io.meshinfer.client.InferenceClient;
import io.meshinfer.models.BenchModels;
import io.meshinfer.models.DemoModel;
import io.meshinfer.node.MeshConfig;
import io.meshinfer.node.MeshNode;
import io.meshinfer.node.NodeResources;
import io.meshinfer.protocol.OipBinary;
import io.meshinfer.runtime.RuntimeSettings;
import io.meshinfer.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code meshinfer bench}: load generators and baselines. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks: measured side by side with their baseline in the same run.",
        subcommands = {BenchRun.class, BenchCommand.Hop.class, BenchCommand.Export.class, BenchCommand.Request.class})
final class BenchCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Writes a bench model to a file, to deploy it on a cluster or on another server. */
    @Command(name = "export", mixinStandardHelpOptions = true,
            description = "Write a bench model (mlp, cnn, transformer) as an ONNX file.")
    static final class Export implements Callable<Integer> {
        @Option(names = "--model", required = true, description = "mlp, cnn or transformer.")
        String model;

        @Option(names = "--out", required = true, description = "The ONNX file to write.")
        Path out;

        @Override
        public Integer call() throws Exception {
            io.meshinfer.models.BenchModels.BenchModel bm = io.meshinfer.models.BenchModels.byName(model);
            Files.write(out, bm.onnx());
            System.out.println("wrote " + out + ": " + bm.description() + ", " + bm.flopsPerSample()
                    + " FLOPs and " + bm.parameterBytes() + " parameter bytes per sample");
            return 0;
        }
    }

    /**
     * Writes the request body {@code meshinfer bench run} sends for a bench model, so any
     * other load generator (wrk with {@code scripts/wrk/oip.lua}, hey, perf_analyzer) can
     * replay exactly the same request against the same endpoint.
     */
    @Command(name = "request", mixinStandardHelpOptions = true,
            description = "Write the Open Inference Protocol request body that bench sends for a bench model,"
                    + " for replay by another load generator (e.g. wrk with scripts/wrk/oip.lua).")
    static final class Request implements Callable<Integer> {
        @Option(names = "--model", required = true, description = "mlp, cnn or transformer.")
        String model;

        @Option(names = "--model-name", description = "Name of the model on the target (default: bench-<model>, as"
                + " bench run deploys it).")
        String modelName;

        @Option(names = "--binary", description = "Encode the tensors with the binary extension (inputs and outputs).")
        boolean binary;

        @Option(names = "--seed", defaultValue = "0", description = "Seed of the random inputs; bench run uses 0-63"
                + " (default ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--timeout-ms", defaultValue = "10000", description = "The request's budget (default ${DEFAULT-VALUE}).")
        long timeoutMs;

        @Option(names = "--out", required = true, description = "The file to write the body to.")
        Path out;

        @Override
        public Integer call() throws Exception {
            BenchModels.BenchModel bm = BenchModels.byName(model);
            String name = BenchRun.nameOnTarget(bm, modelName);
            HttpTarget.Encoded body = HttpTarget.body(name, bm.randomInputs(1, seed), timeoutMs, binary);
            Files.write(out, body.bytes());
            String headers = binary ? "Content-Type: application/octet-stream, " + OipBinary.HEADER_LENGTH + ": "
                    + body.jsonLength() : "Content-Type: application/json";
            String wrkArgs = binary ? out + " " + body.jsonLength() : out.toString();
            System.out.println("wrote " + out + " (" + Files.size(out) + " bytes): POST /v2/models/" + name
                    + "/infer with " + headers);
            System.out.println("replay with wrk: wrk -t1 -c32 -d15s --latency -s scripts/wrk/oip.lua"
                    + " http://HOST:PORT/v2/models/" + name + "/infer -- " + wrkArgs);
            return 0;
        }
    }

    /**
     * The cost of the remote hop: two nodes on 127.0.0.1 (regions a and b), one replica of
     * the same model on each; node a's client alternates requests to its local replica and
     * to the remote one at concurrency 1, so both are measured in the same minutes.
     */
    @Command(name = "hop", mixinStandardHelpOptions = true,
            description = "Latency of a replica on another node versus on the local node (concurrency 1).")
    static final class Hop implements Callable<Integer> {
        @Option(names = "--requests", defaultValue = "5000", description = "Measured requests per side (default ${DEFAULT-VALUE}).")
        int requests;

        @Option(names = "--separate-process", description = "Run the remote node in its own JVM (default: both in this one).")
        boolean separateProcess;

        @Option(names = "--warmup", defaultValue = "2000", description = "Warm-up requests per side (default ${DEFAULT-VALUE}).")
        int warmup;

        @Override
        public Integer call() throws Exception {
            System.setProperty("MESHINFER_LOG_LEVEL", System.getProperty("MESHINFER_LOG_LEVEL", "WARN"));
            System.setProperty("MESHINFER_PEKKO_LOG_LEVEL", System.getProperty("MESHINFER_PEKKO_LOG_LEVEL", "WARN"));
            Path dir = Files.createTempDirectory("meshinfer-bench");
            List<AutoCloseable> closing = new ArrayList<>();
            try {
                MeshNode a = startNode(dir, "bench-a", "a", null, closing);
                String seed = "pekko://meshinfer@" + hostPort(a);
                if (separateProcess) {
                    LocalProcesses procs = new LocalProcesses(dir, List.of("-Xms64m", "-Xmx512m", "-XX:+UseSerialGC",
                            "-DMESHINFER_LOG_LEVEL=WARN", "-DMESHINFER_PEKKO_LOG_LEVEL=WARN"));
                    closing.add(procs);
                    procs.start("bench-b", "b", "b1", List.of(hostPort(a)));
                    long up = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
                    while (a.clusterSnapshot().members().stream().filter(m -> m.status().equals("Up")).count() < 2) {
                        if (System.nanoTime() > up) {
                            throw new IllegalStateException("node bench-b did not join");
                        }
                        TimeUnit.MILLISECONDS.sleep(100); // polling membership
                    }
                } else {
                    MeshNode b = startNode(dir, "bench-b", "b", seed, closing);
                    b.awaitUp(Duration.ofSeconds(60));
                }
                GatewayClient gw = new GatewayClient(a.httpUrl());
                Path model = dir.resolve("model.onnx");
                Files.write(model, DemoModel.load());
                require(gw.putFile("/v1/models/on-a/versions/1?regions=a", model));
                require(gw.putFile("/v1/models/on-b/versions/1?regions=b", model));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (!(a.versionReady("on-a", "1") && a.versionReady("on-b", "1"))) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("replicas did not become ready");
                    }
                    TimeUnit.MILLISECONDS.sleep(100); // polling replicated state
                }
                InferenceClient client = a.client();
                Histogram local = new Histogram(3);
                Histogram remote = new Histogram(3);
                for (int i = 0; i < warmup; i++) {
                    call(client, "on-a", i, null, "bench-a");
                    call(client, "on-b", i, null, "bench-b");
                }
                for (int i = 0; i < requests; i++) {
                    call(client, "on-a", i, local, "bench-a");
                    call(client, "on-b", i, remote, "bench-b");
                }
                print(local, remote);
                return 0;
            } finally {
                for (int i = closing.size() - 1; i >= 0; i--) {
                    closing.get(i).close();
                }
                deleteTree(dir);
            }
        }

        private static void require(GatewayClient.Reply r) {
            if (!r.ok()) {
                throw new IllegalStateException("deploy failed: HTTP " + r.status() + " " + r.body());
            }
        }

        private static String hostPort(MeshNode n) {
            var addr = org.apache.pekko.cluster.typed.Cluster.get(n.clusterSystem()).selfMember().address();
            return addr.getHost().get() + ":" + addr.getPort().get();
        }

        private static MeshNode startNode(Path dir, String name, String region, String seed, List<AutoCloseable> closing)
                throws IOException {
            Map<String, Object> o = new HashMap<>();
            o.put("meshinfer.node.name", name);
            o.put("meshinfer.node.region", region);
            o.put("meshinfer.node.zone", region + "1");
            o.put("meshinfer.node.data-dir", dir.resolve(name).toString());
            o.put("meshinfer.http.port", 0);
            o.put("pekko.remote.artery.canonical.port", 0);
            o.put("pekko.cluster.jmx.multi-mbeans-in-same-jvm", "on");
            o.put("pekko.loglevel", "WARNING");
            if (seed != null) {
                o.put("pekko.cluster.seed-nodes", List.of(seed));
            }
            Config config = MeshConfig.load(ConfigFactory.parseMap(o)).resolve();
            NodeResources resources = NodeResources.open(RuntimeSettings.fromConfig(config), dir.resolve(name));
            closing.add(resources);
            MeshNode node = MeshNode.start(config, resources);
            closing.add(() -> node.shutdown().toCompletableFuture().get(60, TimeUnit.SECONDS));
            node.awaitUp(Duration.ofSeconds(60));
            return node;
        }

        private static void call(InferenceClient client, String model, int i, Histogram h, String expectNode)
                throws Exception {
            InferenceRequest req = InferenceRequest.builder(model)
                    .input(DemoModel.INPUT, Tensor.ofFloats(new long[] {1, DemoModel.FEATURES},
                            DemoModel.sampleFeatures(i)))
                    .timeout(Duration.ofSeconds(10)).build();
            long t0 = System.nanoTime();
            InferenceResponse r = client.infer(req).toCompletableFuture().get(10, TimeUnit.SECONDS);
            long micros = (System.nanoTime() - t0) / 1000;
            if (!r.node().equals(expectNode)) {
                throw new IllegalStateException(model + " was served by " + r.node() + ", not " + expectNode);
            }
            if (h != null) {
                h.recordValue(Math.max(1, micros));
            }
        }

        private static void print(Histogram local, Histogram remote) {
            System.out.println("remote hop, concurrency 1, demo model (sensor-health), two nodes on 127.0.0.1");
            System.out.printf("%-8s %10s %10s %10s %10s%n", "", "p50 ms", "p90 ms", "p99 ms", "mean ms");
            for (var e : List.of(Map.entry("local", local), Map.entry("remote", remote))) {
                Histogram h = e.getValue();
                System.out.printf(Locale.ROOT, "%-8s %10.3f %10.3f %10.3f %10.3f%n", e.getKey(),
                        h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(90) / 1000.0,
                        h.getValueAtPercentile(99) / 1000.0, h.getMean() / 1000.0);
            }
            System.out.printf(Locale.ROOT, "remote - local, p50: %.3f ms (target: at most 0.5 ms)%n",
                    (remote.getValueAtPercentile(50) - local.getValueAtPercentile(50)) / 1000.0);
        }

        private static void deleteTree(Path dir) {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                System.err.println("could not remove " + dir + ": " + e.getMessage());
            }
        }
    }
}
