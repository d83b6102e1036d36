package io.meshinfer.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.meshinfer.node.MeshConfig;
import io.meshinfer.node.MeshNode;
import io.meshinfer.node.NodeResources;
import io.meshinfer.runtime.RuntimeSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code meshinfer node}: runs one cluster node until SIGTERM or Ctrl-C, which run
 * coordinated shutdown (unbind HTTP, finish requests, hand off replicas, leave).
 */
@Command(name = "node", mixinStandardHelpOptions = true,
        description = "Run one meshinfer node (cluster member, replica host and HTTP gateway).")
final class NodeCommand implements Callable<Integer> {
    @Option(names = "--name", description = "Node name shown in status (default: host:port).")
    String name;

    @Option(names = "--host", defaultValue = "127.0.0.1",
            description = "Address for cluster transport and HTTP (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "25520", description = "Cluster transport port (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--http-host", description = "HTTP bind address when it differs from --host.")
    String httpHost;

    @Option(names = "--http-port", defaultValue = "8080", description = "HTTP port (default: ${DEFAULT-VALUE}).")
    int httpPort;

    @Option(names = "--seeds", split = ",",
            description = "Seed nodes as host:port,... (default: none, this node forms its own cluster).")
    List<String> seeds = new ArrayList<>();

    @Option(names = "--region", description = "Region of this node (default: from config, 'default').")
    String region;

    @Option(names = "--zone", description = "Zone of this node (default: from config, 'default').")
    String zone;

    @Option(names = "--data-dir", description = "Directory for the artifact store (default: from config, 'data').")
    Path dataDir;

    @Option(names = "--auth-public-key",
            description = "PEM public key(s) verifying bearer tokens (meshinfer token keygen);"
                    + " turns authentication on.")
    Path authPublicKey;

    @Option(names = "--audit-dir", description = "Directory of the hash-chained audit log; turns auditing on.")
    Path auditDir;

    @Option(names = "--tls-dir", description = "Mutual TLS between nodes with the key material in this directory"
            + " (tls.key, tls.crt, ca.crt from scripts/gen-certs.sh; default: from config, off).")
    Path tlsDir;

    @Option(names = "--https", description = "Serve the gateway over HTTPS (key and certificate from --tls-dir or"
            + " meshinfer.http.tls.key-file and cert-file).")
    boolean https;

    @Option(names = "--artifact-port", description = "Port on the HTTP host where, with --tls-dir, model files are"
            + " served to cluster members only (mutual TLS); 0: any free port (default: from config, 0).")
    Integer artifactPort;

    @Option(names = "--memory-budget", description = "Memory this node offers its model replicas, e.g. 512MiB or 4GiB;"
            + " placement puts a replica here only while the estimates (model file size x"
            + " meshinfer.placement.memory-overhead) fit (default: from config, off: no limit).")
    String memoryBudget;

    @Option(names = "--config", description = "Extra HOCON configuration file; flags override it.")
    Path configFile;

    @Option(names = "--bootstrap", description = "How to find the cluster: 'seeds' (--seeds, or form one) or"
            + " 'kubernetes' (Pekko Cluster Bootstrap through the Kubernetes API) (default: from config, 'seeds').")
    String bootstrap;

    @Option(names = "--management-port",
            description = "Pekko Management port for --bootstrap kubernetes (default: from config, 7626).")
    Integer managementPort;

    @Option(names = "--log-format", description = "Log lines as 'text' or 'json' (default: from config or"
            + " MESHINFER_LOG_FORMAT, 'text').")
    String logFormat;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        Config config = buildConfig();
        try {
            io.meshinfer.shard.MemoryBudget.nodeBudget(config);
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        io.meshinfer.node.LogFormat.apply(config);
        try (NodeResources resources = NodeResources.open(RuntimeSettings.fromConfig(config),
                Path.of(config.getString("meshinfer.node.data-dir")))) {
            MeshNode node = MeshNode.start(config, resources);
            System.out.println("meshinfer node " + node.settings().name() + " (region " + node.settings().region()
                    + ") serving " + node.httpUrl());
            java.util.concurrent.atomic.AtomicBoolean leaving = new java.util.concurrent.atomic.AtomicBoolean();
            java.time.Duration leaveTimeout = config.getDuration("meshinfer.node.leave-timeout");
            Thread hook = new Thread(() -> {
                leaving.set(true);
                int code = gracefulLeave(node, leaveTimeout);
                System.out.flush();
                Runtime.getRuntime().halt(code); // the leave is done; report its outcome, not the signal
            }, "meshinfer-leave");
            Runtime.getRuntime().addShutdownHook(hook);
            int code = node.whenExited().toCompletableFuture().join();
            if (!leaving.get()) {
                Runtime.getRuntime().removeShutdownHook(hook); // on SIGTERM the hook halts the JVM itself
            }
            return code;
        }
    }

    /** SIGTERM or Ctrl-C: leave gracefully, within a bound. */
    private static int gracefulLeave(MeshNode node, java.time.Duration timeout) {
        try {
            return node.shutdown().toCompletableFuture().get(timeout.toMillis(),
                    java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            System.err.println("graceful leave did not finish: " + e);
            return 1;
        }
    }

    Config buildConfig() {
        Map<String, Object> o = new HashMap<>();
        o.put("pekko.remote.artery.canonical.hostname", host);
        o.put("pekko.remote.artery.canonical.port", port);
        o.put("meshinfer.http.host", httpHost != null ? httpHost : host);
        o.put("meshinfer.http.port", httpPort);
        List<String> seedAddresses = new ArrayList<>();
        for (String s : seeds) {
            if (!s.isBlank()) {
                seedAddresses.add("pekko://meshinfer@" + s.trim());
            }
        }
        o.put("pekko.cluster.seed-nodes", seedAddresses);
        if (name != null) {
            o.put("meshinfer.node.name", name);
        }
        if (region != null) {
            o.put("meshinfer.node.region", region);
        }
        if (zone != null) {
            o.put("meshinfer.node.zone", zone);
        }
        if (dataDir != null) {
            o.put("meshinfer.node.data-dir", dataDir.toString());
        }
        if (authPublicKey != null) {
            o.put("meshinfer.security.auth-public-key", authPublicKey.toString());
        }
        if (auditDir != null) {
            o.put("meshinfer.audit.dir", auditDir.toString());
        }
        if (tlsDir != null) {
            o.put("meshinfer.security.tls-dir", tlsDir.toAbsolutePath().toString());
        }
        if (https) {
            o.put("meshinfer.http.tls.enabled", true);
        }
        if (artifactPort != null) {
            o.put("meshinfer.artifacts.port", artifactPort);
        }
        if (bootstrap != null) {
            o.put("meshinfer.cluster.bootstrap", bootstrap);
        }
        if (managementPort != null) {
            o.put("meshinfer.cluster.kubernetes.management-port", managementPort);
        }
        if (memoryBudget != null) {
            o.put("meshinfer.node.memory-budget", memoryBudget);
        }
        if (logFormat != null) {
            o.put("meshinfer.logging.format", logFormat);
        }
        Config flags = ConfigFactory.parseMap(o);
        if (configFile != null) {
            flags = flags.withFallback(ConfigFactory.parseFile(configFile.toFile()));
        }
        return MeshConfig.load(flags).resolve();
    }
}
