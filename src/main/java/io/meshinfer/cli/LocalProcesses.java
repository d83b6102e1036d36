package io.meshinfer.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Node processes started by this process on 127.0.0.1 (for the demo): each a separate
 * JVM running {@code meshinfer node} from this process's own classpath, with its log in a
 * directory. Every process is killed when this JVM exits, so nothing is left behind.
 */
final class LocalProcesses implements AutoCloseable {
    /** One started node: its name, ports, region and process. */
    record Node(String name, String region, int port, int httpPort, Process process, Path log) {
        String url() {
            return "http://127.0.0.1:" + httpPort;
        }

        String hostPort() {
            return "127.0.0.1:" + port;
        }
    }

    /** Ports this process has handed out, so two of its nodes never get the same one. */
    private static final java.util.Set<Integer> USED_PORTS = new java.util.HashSet<>();

    private final Path dir;
    private final List<String> jvmOptions;
    private final Map<String, Node> nodes = new LinkedHashMap<>();
    private final Thread reaper = new Thread(this::killAll, "meshinfer-demo-reaper");

    LocalProcesses(Path dir, List<String> jvmOptions) {
        this.dir = dir;
        this.jvmOptions = List.copyOf(jvmOptions);
        Runtime.getRuntime().addShutdownHook(reaper);
    }

    /** A port free on 127.0.0.1 right now, outside the ephemeral range ({@link FreePorts}). */
    static int freePort() {
        synchronized (USED_PORTS) {
            if (USED_PORTS.size() > 10_000) {
                USED_PORTS.clear(); // bounded: ports handed out that long ago are bound or gone
            }
            return FreePorts.pick(USED_PORTS);
        }
    }

    Node start(String name, String region, String zone, List<String> seeds) throws IOException {
        int port = freePort();
        int httpPort = freePort();
        Path log = dir.resolve(name + ".log");
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        // LMDB (the durable catalog) reads direct buffers' addresses
        cmd.addAll(List.of("--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens",
                "java.base/sun.nio.ch=ALL-UNNAMED"));
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(List.of("node", "--name", name, "--host", "127.0.0.1", "--port", String.valueOf(port),
                "--http-port", String.valueOf(httpPort), "--region", region, "--zone", zone,
                "--data-dir", dir.resolve(name + "-data").toString()));
        if (!seeds.isEmpty()) {
            cmd.add("--seeds");
            cmd.add(String.join(",", seeds));
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Node node = new Node(name, region, port, httpPort, p, log);
        nodes.put(name, node);
        return node;
    }

    List<Node> nodes() {
        return new ArrayList<>(nodes.values());
    }

    Node node(String name) {
        return nodes.get(name);
    }

    /** kill -9. */
    void kill(String name) {
        nodes.get(name).process().destroyForcibly();
    }

    /** SIGTERM to every live node, then waits for them to leave (SIGKILL after {@code timeout}). */
    void stopAll(Duration timeout) {
        for (Node n : nodes.values()) {
            if (n.process().isAlive()) {
                n.process().destroy();
            }
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        for (Node n : nodes.values()) {
            try {
                long left = Math.max(0, deadline - System.nanoTime());
                if (!n.process().waitFor(left, TimeUnit.NANOSECONDS)) {
                    n.process().destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                n.process().destroyForcibly();
            }
        }
    }

    /** The last lines of a node's log, for error messages. */
    static String tail(Path log, int lines) {
        try {
            List<String> all = Files.readAllLines(log);
            return String.join(System.lineSeparator(), all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    private void killAll() {
        for (Node n : nodes.values()) {
            n.process().destroyForcibly();
        }
    }

    @Override
    public void close() {
        stopAll(Duration.ofSeconds(30));
        try {
            Runtime.getRuntime().removeShutdownHook(reaper);
        } catch (IllegalStateException jvmExiting) {
            killAll(); // the reaper runs as well; killing twice is harmless
        }
    }
}
