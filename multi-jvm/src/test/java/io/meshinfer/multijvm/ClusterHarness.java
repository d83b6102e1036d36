package io.meshinfer.multijvm;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.meshinfer.cli.FreePorts;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.AfterTestExecutionCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Real meshinfer nodes as separate JVMs on 127.0.0.1, for one scenario: start, stop
 * (SIGTERM), kill -9, pause (SIGSTOP) and resume, restart on the same ports and data
 * directory, cut the network between two sets of nodes and heal it (Artery test mode,
 * through the nodes' test-mode control endpoints), wait for membership to converge, and
 * deploy models.
 *
 * <p>Each node runs the shaded jar ({@code target/meshinfer-*-all.jar}) with small-machine
 * JVM options ({@link #NODE_JVM_OPTIONS}) and the test cluster timings ({@link #TEST_CONFIG}),
 * on ports picked free at registration (outside the kernel's ephemeral range, so a client
 * connection never squats a port a restarting node needs). Output goes to
 * {@code target/multi-jvm/<scenario>/<node>.log} (appended across restarts); data
 * directories sit beside the logs.
 *
 * <p>Use it as a JUnit 5 extension ({@code @RegisterExtension final ClusterHarness cluster = ...}):
 * when the test fails it prints every node's log tail, and after the test it kills every
 * node and writes the scenario report. It is also {@link AutoCloseable}, and a JVM
 * shutdown hook kills its nodes if the test JVM exits first. Drive it from one thread.
 */
public final class ClusterHarness implements AutoCloseable, AfterTestExecutionCallback, AfterEachCallback {
    /** JVM options of every node: small heap, quick start, little JIT (2 shared cores). */
    public static final List<String> NODE_JVM_OPTIONS = List.of("-Xms64m", "-Xmx256m", "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1", "-Xss512k", "-XX:ReservedCodeCacheSize=64m");

    /** Cluster timings for a slow shared CPU, and test mode (the partition endpoints). */
    public static final Map<String, String> TEST_CONFIG = orderedMap(
            "meshinfer.test-mode", "on",
            "pekko.cluster.failure-detector.heartbeat-interval", "500ms",
            "pekko.cluster.failure-detector.acceptable-heartbeat-pause", "3s",
            "pekko.cluster.split-brain-resolver.stable-after", "5s",
            "pekko.coordinated-shutdown.phases.cluster-exiting.timeout", "2s");

    private static final String HOST = "127.0.0.1";
    private static final String START_MARKER = "===== multi-jvm harness: start #";
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration POLL = Duration.ofMillis(250);
    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** Name, region and zone of a node. */
    public record NodeSpec(String name, String region, String zone) {
    }

    private enum State { NEW, RUNNING, PAUSED, STOPPED, KILLED }

    private static final class Node {
        final NodeSpec spec;
        final int transportPort;
        final int httpPort;
        final Path dataDir;
        final Path log;
        final int order;
        Process process;
        State state = State.NEW;
        int starts;
        /** False for a node started to stay outside the cluster ({@link #startUnjoined}). */
        boolean member = true;
        final List<String> exits = new ArrayList<>();

        Node(NodeSpec spec, int transportPort, int httpPort, Path dataDir, Path log, int order) {
            this.spec = spec;
            this.transportPort = transportPort;
            this.httpPort = httpPort;
            this.dataDir = dataDir;
            this.log = log;
            this.order = order;
        }

        String name() {
            return spec.name();
        }

        String http() {
            return "http://" + HOST + ":" + httpPort;
        }
    }

    /** A node process that exited while the harness expected it to run. */
    static final class NodeDied extends RuntimeException {
        NodeDied(String message) {
            super(message);
        }
    }

    private final String scenario;
    private final Path dir;
    private final Path jar;
    private final ScenarioReport report;
    private final Map<String, String> systemProperties = new LinkedHashMap<>(TEST_CONFIG);
    private final Map<String, Map<String, String>> nodeProperties = new LinkedHashMap<>();
    private final Map<String, List<String>> nodeArgs = new LinkedHashMap<>();
    private final Map<String, Node> nodes = new LinkedHashMap<>();
    private final Set<Integer> usedPorts = new HashSet<>();
    private final NodeHttp http = new NodeHttp();
    /** Every process ever started, for the shutdown hook (which must not wait for the harness lock). */
    private final List<Process> processes = new CopyOnWriteArrayList<>();
    private final Thread shutdownHook;
    private boolean closed;

    /** A harness for the scenario class {@code scenario} (its simple name names the output directory). */
    public ClusterHarness(Class<?> scenario) {
        this.scenario = scenario.getSimpleName();
        Path base = Path.of(System.getProperty("basedir", System.getProperty("user.dir")));
        this.dir = base.resolve("target").resolve("multi-jvm").resolve(this.scenario);
        this.jar = findJar(base);
        this.report = new ScenarioReport(this.scenario);
        deleteRecursively(dir);
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir, e);
        }
        this.shutdownHook = new Thread(() -> processes.forEach(Process::destroyForcibly),
                "multi-jvm-harness-cleanup-" + this.scenario);
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /** Adds or replaces a {@code -Dkey=value} for the nodes started (or restarted) after this call. */
    public ClusterHarness systemProperty(String key, String value) {
        systemProperties.put(key, value);
        return this;
    }

    /** Adds or replaces a {@code -Dkey=value} for one node (over the harness-wide ones), for its later starts. */
    public synchronized ClusterHarness nodeSystemProperty(String name, String key, String value) {
        nodeProperties.computeIfAbsent(name, k -> new LinkedHashMap<>()).put(key, value);
        return this;
    }

    /** Sets extra {@code meshinfer node} flags for one node (e.g. {@code --tls-dir DIR}), for its later starts. */
    public synchronized ClusterHarness nodeArgs(String name, String... args) {
        nodeArgs.put(name, List.of(args));
        return this;
    }

    public ScenarioReport report() {
        return report;
    }

    /** {@code target/multi-jvm/<scenario>}. */
    public Path dir() {
        return dir;
    }

    // ---- lifecycle of nodes ----

    /** Starts one node and waits until it is an Up member. */
    public void startNode(String name, String region, String zone) {
        startNodes(new NodeSpec(name, region, zone));
    }

    /**
     * Starts several nodes at once and waits until each is an Up member. The first node a
     * harness ever starts forms the cluster (no {@code --seeds}); every other start of any
     * node seeds from all other registered nodes, so a node never forms a second cluster.
     */
    public synchronized void startNodes(NodeSpec... specs) {
        List<Node> batch = new ArrayList<>();
        for (NodeSpec spec : specs) {
            if (nodes.containsKey(spec.name())) {
                throw new IllegalArgumentException("node " + spec.name() + " already exists; use restart()");
            }
            Node n = new Node(spec, freePort(), freePort(), dir.resolve("data").resolve(spec.name()),
                    dir.resolve(spec.name() + ".log"), nodes.size());
            nodes.put(spec.name(), n);
            batch.add(n);
        }
        long t0 = System.nanoTime();
        batch.forEach(this::launch);
        for (Node n : batch) {
            awaitUp(n, Duration.ofSeconds(90));
        }
        report.line("started %s in %.1f s: %s", batch.stream().map(Node::name).toList(),
                (System.nanoTime() - t0) / 1e9, batch.stream().map(n -> n.name() + "[" + n.spec.region() + "/"
                        + n.spec.zone() + " transport " + n.transportPort + " http " + n.httpPort + "]").toList());
    }

    /**
     * Starts a node process meant to stay outside the cluster (an intruder, say), seeded
     * with the named nodes, and waits only until its HTTP gateway answers
     * {@code GET /v2/health/live}. It never seeds other nodes and is not among the running
     * members that {@link #deploy}, {@link #awaitReady} and {@link #replicaLocations} ask;
     * {@link #view} and {@link #logContains} show what it sees, {@link #kill} ends it.
     */
    public synchronized void startUnjoined(NodeSpec spec, String... seedNodes) {
        if (nodes.containsKey(spec.name())) {
            throw new IllegalArgumentException("node " + spec.name() + " already exists");
        }
        List<String> seeds = Arrays.stream(seedNodes).map(this::transportAddress).toList();
        Node n = new Node(spec, freePort(), freePort(), dir.resolve("data").resolve(spec.name()),
                dir.resolve(spec.name() + ".log"), nodes.size());
        n.member = false;
        nodes.put(spec.name(), n);
        long t0 = System.nanoTime();
        launch(n, seeds);
        await(n.name() + " serves HTTP (GET /v2/health/live)").atMost(Duration.ofSeconds(60)).pollInterval(POLL)
                .ignoreExceptionsMatching(e -> !(e instanceof NodeDied))
                .until(() -> {
                    checkAlive(n);
                    return http.get(n.http() + "/v2/health/live", CALL_TIMEOUT).status() == 200;
                });
        report.line("started %s outside the cluster, seeded with %s: HTTP live after %.1f s (transport %d, http %d)",
                n.name(), List.of(seedNodes), (System.nanoTime() - t0) / 1e9, n.transportPort, n.httpPort);
    }

    /** SIGTERM (graceful leave) and waits up to 60 s for the process to exit; returns its exit code. */
    public synchronized int stop(String name) {
        Node n = require(name, State.RUNNING);
        long t0 = System.nanoTime();
        n.process.destroy();
        int code = waitForExit(n, Duration.ofSeconds(60), "SIGTERM");
        n.state = State.STOPPED;
        report.line("stopped %s (SIGTERM): exit code %d after %.1f s", name, code, (System.nanoTime() - t0) / 1e9);
        return code;
    }

    /** kill -9. */
    public synchronized void kill(String name) {
        Node n = require(name, State.RUNNING, State.PAUSED);
        n.process.destroyForcibly();
        waitForExit(n, Duration.ofSeconds(20), "SIGKILL");
        n.state = State.KILLED;
        report.line("killed %s (SIGKILL)", name);
    }

    /** SIGSTOP: the process freezes, its sockets stay open. */
    public synchronized void pause(String name) {
        Node n = require(name, State.RUNNING);
        signal(n, "STOP");
        n.state = State.PAUSED;
        report.line("paused %s (SIGSTOP)", name);
    }

    /** SIGCONT. */
    public synchronized void resume(String name) {
        Node n = require(name, State.PAUSED);
        signal(n, "CONT");
        n.state = State.RUNNING;
        report.line("resumed %s (SIGCONT)", name);
    }

    /**
     * Starts a node again on the same ports and data directory (after SIGTERM if it is
     * running, after kill -9 if it is paused) and waits until it is an Up member.
     */
    public synchronized void restart(String name) {
        Node n = nodes.get(name);
        if (n == null) {
            throw new IllegalArgumentException("unknown node " + name);
        }
        if (n.state == State.RUNNING) {
            stop(name);
        } else if (n.state == State.PAUSED) {
            kill(name);
        }
        long t0 = System.nanoTime();
        launch(n);
        awaitUp(n, Duration.ofSeconds(90));
        report.line("restarted %s: Up after %.1f s", name, (System.nanoTime() - t0) / 1e9);
    }

    /**
     * Starts every named node again at once (each stopped or killed before), on its own ports
     * and data directory, as after a shutdown of the whole cluster: all are seeded with the
     * same list, the named nodes in the order given, so the first forms the cluster when
     * no other answers and the rest join it. Waits until each is an Up member.
     */
    public synchronized void restartAll(String... names) {
        List<Node> batch = new ArrayList<>();
        for (String name : names) {
            batch.add(require(name, State.STOPPED, State.KILLED));
        }
        List<String> seeds = batch.stream().map(n -> HOST + ":" + n.transportPort).toList();
        long t0 = System.nanoTime();
        batch.forEach(n -> launch(n, seeds));
        for (Node n : batch) {
            awaitUp(n, Duration.ofSeconds(90));
        }
        report.line("restarted %s together: all Up after %.1f s", List.of(names), (System.nanoTime() - t0) / 1e9);
    }

    /** Whether the node's process is alive (paused counts as alive). */
    public synchronized boolean isAlive(String name) {
        Node n = nodes.get(name);
        return n != null && n.process != null && n.process.isAlive();
    }

    // ---- network partitions (Artery test mode) ----

    /**
     * Cuts all cluster traffic between every node of {@code sideA} and every node of
     * {@code sideB}, in both directions, through {@code POST /v1/test/partition} on every
     * node of both sides, then waits until each side sees the other as unreachable (or gone).
     * Fails loudly when a node answers anything but 200 (404: test mode is off, and the
     * blackhole would silently do nothing) or when the cut has no visible effect.
     */
    public synchronized void partition(Set<String> sideA, Set<String> sideB) {
        Set<String> overlap = new TreeSet<>(sideA);
        overlap.retainAll(sideB);
        if (!overlap.isEmpty()) {
            throw new IllegalArgumentException("nodes on both sides: " + overlap);
        }
        for (String a : sideA) {
            blackhole(require(a, State.RUNNING), sideB);
        }
        for (String b : sideB) {
            blackhole(require(b, State.RUNNING), sideA);
        }
        long t0 = System.nanoTime();
        await("partition " + sideA + " | " + sideB + " takes effect").atMost(Duration.ofSeconds(30))
                .pollInterval(POLL).ignoreExceptionsMatching(e -> !(e instanceof NodeDied))
                .untilAsserted(() -> {
                    assertCutOff(sideA, sideB);
                    assertCutOff(sideB, sideA);
                });
        report.line("partitioned %s | %s: each side sees the other unreachable after %.1f s", sideA, sideB,
                (System.nanoTime() - t0) / 1e9);
    }

    /**
     * Undoes every partition: {@code POST /v1/test/heal} on every running node, naming every
     * other node of this harness explicitly (an empty list means "heal all" in the contract,
     * but a node can only enumerate peers it still knows, and the other side of a partition
     * may have been removed from its membership by then).
     */
    public synchronized void heal() {
        for (Node n : nodes.values()) {
            if (n.state != State.RUNNING) {
                continue;
            }
            ObjectNode body = MAPPER.createObjectNode();
            var list = body.putArray("peers");
            nodes.values().stream().filter(o -> o != n).forEach(o -> list.add(HOST + ":" + o.transportPort));
            NodeHttp.Reply r = http.postJson(n.http() + "/v1/test/heal", body.toString(), CALL_TIMEOUT);
            requireTestModeReply(n, "/v1/test/heal", r);
        }
        report.line("healed all partitions");
    }

    private void blackhole(Node n, Set<String> peers) {
        ObjectNode body = MAPPER.createObjectNode();
        var list = body.putArray("peers");
        for (String p : peers) {
            list.add(transportAddress(p));
        }
        NodeHttp.Reply r = http.postJson(n.http() + "/v1/test/partition", body.toString(), CALL_TIMEOUT);
        requireTestModeReply(n, "/v1/test/partition", r);
    }

    private void requireTestModeReply(Node n, String path, NodeHttp.Reply r) {
        if (r.status() == 404) {
            fail("POST " + path + " on " + n.name() + " answered 404: test mode is off on that node, so a partition"
                    + " would silently do nothing (start nodes with -Dmeshinfer.test-mode=on). Body: " + r.body());
        }
        if (r.status() != 200 || !r.body().contains("\"ok\"")) {
            fail("POST " + path + " on " + n.name() + " answered " + r.status() + ": " + r.body());
        }
    }

    private void assertCutOff(Set<String> viewers, Set<String> others) {
        for (String v : viewers) {
            Node n = nodes.get(v);
            if (n.state != State.RUNNING) {
                continue;
            }
            ClusterView view = view(v);
            for (ClusterView.Member m : view.members()) {
                assertTrue(!others.contains(m.name()) || !m.reachable(),
                        () -> view.membersLine() + ": " + m.name() + " still reachable");
            }
        }
    }

    // ---- cluster state ----

    /** {@code GET /v1/cluster} of a running node. */
    public ClusterView view(String name) {
        Node n = nodes.get(name);
        if (n == null) {
            throw new IllegalArgumentException("unknown node " + name);
        }
        checkAlive(n);
        NodeHttp.Reply r = http.get(n.http() + "/v1/cluster", CALL_TIMEOUT);
        if (r.status() != 200) {
            throw new IllegalStateException("GET /v1/cluster on " + name + " answered " + r.status() + ": " + r.body());
        }
        return ClusterView.parse(r.body());
    }

    /**
     * Waits until {@code viewFrom} sees exactly {@code expectedUp} as members, all Up and
     * reachable (nobody else in any status), and returns how long that took.
     */
    public Duration awaitMembers(String viewFrom, Set<String> expectedUp, Duration timeout) {
        long t0 = System.nanoTime();
        Set<String> expected = new TreeSet<>(expectedUp);
        await(viewFrom + " sees exactly " + expected + " Up").atMost(timeout).pollInterval(POLL)
                .ignoreExceptionsMatching(e -> !(e instanceof NodeDied))
                .untilAsserted(() -> {
                    ClusterView v = view(viewFrom);
                    assertEquals(expected, v.memberNames(), v.membersLine());
                    assertEquals(expected, v.upNames(), v.membersLine());
                });
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        report.line("%s sees %s Up (waited %.1f s)", viewFrom, expected, took.toMillis() / 1000.0);
        return took;
    }

    /** {@link #awaitMembers} from every node of {@code expectedUp}; returns the total wait. */
    public Duration awaitConverged(Set<String> expectedUp, Duration timeout) {
        long t0 = System.nanoTime();
        for (String name : new TreeSet<>(expectedUp)) {
            Duration left = timeout.minusNanos(System.nanoTime() - t0);
            awaitMembers(name, expectedUp, left.isNegative() ? Duration.ofSeconds(1) : left);
        }
        return Duration.ofNanos(System.nanoTime() - t0);
    }

    // ---- models ----

    /**
     * Deploys {@code onnx} as {@code model@version} through the first running node.
     *
     * @param regions allowed regions (empty: any)
     * @param maxBatch most rows per run, or 0 for the node's default
     * @return the response body (201, or 200 when the same bytes were deployed before)
     */
    public String deploy(String model, String version, byte[] onnx, int replicas, List<String> regions, int maxBatch) {
        Node gateway = nodes.values().stream().filter(n -> n.state == State.RUNNING).findFirst()
                .orElseThrow(() -> new IllegalStateException("no running node to deploy through"));
        StringBuilder url = new StringBuilder(gateway.http()).append("/v1/models/").append(encode(model))
                .append("/versions/").append(encode(version)).append("?replicas=").append(replicas);
        if (!regions.isEmpty()) {
            url.append("&regions=").append(encode(String.join(",", regions)));
        }
        if (maxBatch > 0) {
            url.append("&maxBatch=").append(maxBatch);
        }
        NodeHttp.Reply r = http.put(url.toString(), onnx, Duration.ofSeconds(60));
        if (r.status() != 201 && r.status() != 200) {
            fail("deploy of " + model + "@" + version + " through " + gateway.name() + " answered " + r.status()
                    + ": " + r.body());
        }
        report.line("deployed %s@%s (%d replicas, regions %s) through %s: %d", model, version, replicas,
                regions.isEmpty() ? "any" : regions, gateway.name(), r.status());
        return r.body();
    }

    /**
     * Deploys {@code onnx} as {@code model@version} split into {@code stages} pipeline stages
     * ({@code stages=K}), each stage with {@code replicas} replicas, through the first running node.
     */
    public String deployStages(String model, String version, byte[] onnx, int replicas, int stages) {
        Node gateway = nodes.values().stream().filter(n -> n.state == State.RUNNING).findFirst()
                .orElseThrow(() -> new IllegalStateException("no running node to deploy through"));
        String url = gateway.http() + "/v1/models/" + encode(model) + "/versions/" + encode(version) + "?replicas="
                + replicas + "&stages=" + stages;
        NodeHttp.Reply r = http.put(url, onnx, Duration.ofSeconds(60));
        if (r.status() != 201 && r.status() != 200) {
            fail("deploy of " + model + "@" + version + " in " + stages + " stages through " + gateway.name()
                    + " answered " + r.status() + ": " + r.body());
        }
        report.line("deployed %s@%s in %d stages (%d replicas each) through %s: %d", model, version, stages, replicas,
                gateway.name(), r.status());
        return r.body();
    }

    /** Waits until some running node answers 200 on {@code GET /v2/models/{m}/versions/{v}/ready}. */
    public Duration awaitReady(String model, String version, Duration timeout) {
        return awaitReadyOn(model, version, timeout, false);
    }

    /**
     * Waits until every running node answers 200 on {@code GET /v2/models/{m}/versions/{v}/ready}:
     * each gateway has the deploy in its own catalog and sees a ready replica. A gateway that
     * hosts no replica learns of a deploy by gossip, after the hosting nodes have loaded it.
     */
    public Duration awaitReadyOnEvery(String model, String version, Duration timeout) {
        return awaitReadyOn(model, version, timeout, true);
    }

    private Duration awaitReadyOn(String model, String version, Duration timeout, boolean every) {
        long t0 = System.nanoTime();
        String path = "/v2/models/" + encode(model) + "/versions/" + encode(version) + "/ready";
        java.util.function.Predicate<Node> ready = n -> http.get(n.http() + path, CALL_TIMEOUT).status() == 200;
        await(model + "@" + version + " ready" + (every ? " on every gateway" : "")).atMost(timeout).pollInterval(POLL)
                .ignoreExceptionsMatching(e -> !(e instanceof NodeDied))
                .until(() -> every ? running().stream().allMatch(ready) : running().stream().anyMatch(ready));
        return Duration.ofNanos(System.nanoTime() - t0);
    }

    /**
     * Ready replicas of {@code model@version} by replica id, each with the node that
     * runs it, as the running nodes report themselves (a node's word about its own
     * replicas; what others believe is not counted). A replica reported by two nodes maps
     * to both names joined with {@code +}.
     */
    public Map<String, String> replicaLocations(String model, String version) {
        Map<String, String> where = new TreeMap<>();
        for (Node n : running()) {
            for (ClusterView.Replica r : view(n.name()).ownReadyReplicas(model, version)) {
                where.merge(r.replica(), n.name(), (a, b) -> a + "+" + b);
            }
        }
        return where;
    }

    /**
     * Waits until {@code count} replicas of {@code model@version} are ready on
     * {@code count} different running nodes (anti-affinity, so only meaningful with at
     * least that many eligible nodes), and returns replica id to node.
     */
    public Map<String, String> awaitReplicas(String model, String version, int count, Duration timeout) {
        long t0 = System.nanoTime();
        AtomicReference<Map<String, String>> last = new AtomicReference<>(Map.of());
        await(count + " ready replicas of " + model + "@" + version + " on distinct nodes").atMost(timeout)
                .pollInterval(POLL).ignoreExceptionsMatching(e -> !(e instanceof NodeDied))
                .untilAsserted(() -> {
                    Map<String, String> where = replicaLocations(model, version);
                    last.set(where);
                    assertEquals(count, where.size(), "ready replicas " + where);
                    assertEquals(count, new HashSet<>(where.values()).size(), "replicas share a node: " + where);
                    assertTrue(where.values().stream().noneMatch(v -> v.contains("+")), "replica on two nodes: "
                            + where);
                });
        report.line("%d replicas of %s@%s ready: %s (waited %.1f s)", count, model, version, last.get(),
                (System.nanoTime() - t0) / 1e9);
        return last.get();
    }

    // ---- addresses ----

    /** HTTP endpoints of the named nodes (all registered nodes when none are named), for a load driver. */
    public List<Gateway> gateways(String... names) {
        Collection<Node> selected = names.length == 0 ? nodes.values()
                : Arrays.stream(names).map(this::node).toList();
        return selected.stream().map(n -> new Gateway(n.name(), HOST, n.httpPort)).toList();
    }

    /** {@code 127.0.0.1:<cluster transport port>} of a node. */
    public String transportAddress(String name) {
        return HOST + ":" + node(name).transportPort;
    }

    public String httpUrl(String name) {
        return node(name).http();
    }

    /** Names of every registered node, in registration order. */
    public List<String> names() {
        return List.copyOf(nodes.keySet());
    }

    /** Names of the running member nodes, in registration order. */
    public List<String> runningNames() {
        return running().stream().map(Node::name).toList();
    }

    private Node node(String name) {
        Node n = nodes.get(name);
        if (n == null) {
            throw new IllegalArgumentException("unknown node " + name + " (known: " + nodes.keySet() + ")");
        }
        return n;
    }

    private synchronized List<Node> running() {
        return nodes.values().stream().filter(n -> n.state == State.RUNNING && n.member).toList();
    }

    // ---- logs ----

    /** A node's data directory (its artifact store is {@code artifacts/}, its durable catalog {@code catalog-store/}). */
    public Path dataDir(String name) {
        return node(name).dataDir;
    }

    /** Whether the output of a node's latest start has a line containing {@code text}. */
    public boolean logContains(String name, String text) {
        try (Stream<String> lines = Files.lines(node(name).log, StandardCharsets.UTF_8)) {
            boolean found = false;
            for (String l : (Iterable<String>) lines::iterator) {
                if (l.startsWith(START_MARKER)) {
                    found = false; // an earlier start: only the latest counts
                } else if (l.contains(text)) {
                    found = true;
                }
            }
            return found;
        } catch (IOException | UncheckedIOException e) {
            throw new IllegalStateException("cannot read the log of " + name + ": " + e.getMessage(), e);
        }
    }

    /** The last {@code lines} lines of a node's log. */
    public String logTail(String name, int lines) {
        Path log = node(name).log;
        try {
            List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e.getMessage() + ")";
        }
    }

    /** Prints the tail of every node's log to stdout. */
    public void printLogTails(int lines) {
        for (String name : names()) {
            System.out.println("----- " + scenario + ": last " + lines + " lines of " + node(name).log + " -----");
            System.out.println(logTail(name, lines));
        }
    }

    // ---- JUnit and cleanup ----

    @Override
    public void afterTestExecution(ExtensionContext context) {
        context.getExecutionException().ifPresent(e -> {
            report.line("FAILED: %s", e.toString().lines().findFirst().orElse(""));
            printLogTails(60);
        });
    }

    @Override
    public void afterEach(ExtensionContext context) {
        close();
    }

    /** Kills every node still running (SIGKILL, also when paused) and writes the report. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        destroyAll();
        for (Node n : nodes.values()) {
            report.line("node %s: %d start(s), exits %s, log %s", n.name(), n.starts, n.exits, logSummary(n));
        }
        report.line("scenario took %.1f s", report.elapsed().toMillis() / 1000.0);
        report.write(dir.resolve("report.txt"));
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            // the JVM is already shutting down and runs the hook itself
        }
    }

    private synchronized void destroyAll() {
        for (Node n : nodes.values()) {
            if (n.process != null && n.process.isAlive()) {
                n.process.destroyForcibly();
            }
        }
        for (Node n : nodes.values()) {
            if (n.process != null) {
                try {
                    if (n.process.waitFor(10, TimeUnit.SECONDS) && n.state != State.KILLED
                            && n.state != State.STOPPED) {
                        n.exits.add("killed at close");
                        n.state = State.KILLED;
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private static String logSummary(Node n) {
        try (Stream<String> lines = Files.lines(n.log, StandardCharsets.UTF_8)) {
            Map<String, Long> levels = lines.map(l -> l.contains(" ERROR ") ? "ERROR" : l.contains(" WARN ") ? "WARN"
                    : "").filter(s -> !s.isEmpty()).collect(Collectors.groupingBy(s -> s, TreeMap::new,
                    Collectors.counting()));
            return n.log.getFileName() + " " + levels;
        } catch (IOException | UncheckedIOException e) {
            return n.log.getFileName() + " (unreadable: " + e.getMessage() + ")";
        }
    }

    // ---- internals ----

    private void launch(Node n) {
        launch(n, (n.order == 0 && n.starts == 0) ? List.of()
                : nodes.values().stream().filter(o -> o != n && o.member).map(o -> HOST + ":" + o.transportPort)
                        .toList());
    }

    private void launch(Node n, List<String> seeds) {
        if (n.starts > 0) {
            awaitPortsFree(n);
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(NODE_JVM_OPTIONS);
        cmd.add("-XX:ErrorFile=" + dir.resolve("hs_err_" + n.name() + "_%p.log"));
        Map<String, String> properties = new LinkedHashMap<>(systemProperties);
        properties.putAll(nodeProperties.getOrDefault(n.name(), Map.of()));
        properties.forEach((k, v) -> cmd.add("-D" + k + "=" + v));
        cmd.addAll(List.of("-jar", jar.toString(), "node", "--name", n.name(), "--host", HOST,
                "--port", String.valueOf(n.transportPort), "--http-port", String.valueOf(n.httpPort),
                "--region", n.spec.region(), "--zone", n.spec.zone(), "--data-dir", n.dataDir.toString()));
        cmd.addAll(nodeArgs.getOrDefault(n.name(), List.of()));
        if (!seeds.isEmpty()) {
            cmd.add("--seeds");
            cmd.add(String.join(",", seeds));
        }
        try {
            Files.createDirectories(n.dataDir);
            Files.writeString(n.log, START_MARKER + (n.starts + 1) + " of " + n.name() + " at "
                            + Instant.now() + "\n===== " + String.join(" ", cmd) + "\n", StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            n.process = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(n.log.toFile())).start();
            processes.add(n.process);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start node " + n.name(), e);
        }
        n.starts++;
        n.state = State.RUNNING;
    }

    private void awaitUp(Node n, Duration timeout) {
        await(n.name() + " is an Up member (GET /v2/health/ready)").atMost(timeout).pollInterval(POLL)
                .ignoreExceptionsMatching(e -> !(e instanceof NodeDied))
                .until(() -> {
                    checkAlive(n);
                    return http.get(n.http() + "/v2/health/ready", CALL_TIMEOUT).status() == 200;
                });
    }

    private void checkAlive(Node n) {
        if ((n.state == State.RUNNING || n.state == State.PAUSED) && n.process != null && !n.process.isAlive()) {
            int code = n.process.exitValue();
            n.exits.add(code + " (unexpected)");
            n.state = State.KILLED;
            report.line("node %s exited unexpectedly with code %d", n.name(), code);
            throw new NodeDied("node " + n.name() + " exited unexpectedly with code " + code + "; log tail:\n"
                    + logTail(n.name(), 40));
        }
        if (n.state != State.RUNNING) {
            throw new IllegalStateException("node " + n.name() + " is " + n.state);
        }
    }

    private Node require(String name, State... allowed) {
        Node n = node(name);
        if (n.process != null && !n.process.isAlive() && (n.state == State.RUNNING || n.state == State.PAUSED)) {
            checkAlive(n);
        }
        if (!List.of(allowed).contains(n.state)) {
            throw new IllegalStateException("node " + name + " is " + n.state + ", expected " + List.of(allowed));
        }
        return n;
    }

    private int waitForExit(Node n, Duration timeout, String signal) {
        try {
            if (!n.process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                n.process.destroyForcibly();
                n.process.waitFor(10, TimeUnit.SECONDS);
                n.exits.add("hung after " + signal);
                fail("node " + n.name() + " did not exit within " + timeout + " of " + signal + "; log tail:\n"
                        + logTail(n.name(), 40));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
        int code = n.process.exitValue();
        n.exits.add(code + " after " + signal);
        return code;
    }

    private void signal(Node n, String signal) {
        try {
            Process p = new ProcessBuilder("kill", "-" + signal, String.valueOf(n.process.pid()))
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
                fail("kill -" + signal + " " + n.process.pid() + " failed: " + out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /** A port free right now, outside the kernel's ephemeral range ({@link FreePorts}). */
    private int freePort() {
        if (usedPorts.isEmpty()) {
            int[] range = FreePorts.range();
            report.line("node ports picked from [%d, %d); the kernel's ephemeral range is %s", range[0], range[1],
                    FreePorts.ephemeralRange());
        }
        return FreePorts.pick(usedPorts);
    }

    /**
     * Waits until a stopped node's ports can be bound again as its node binds them (address
     * reuse on, so closed connections in TIME_WAIT do not count), so a restart does not fail on
     * a port some short-lived socket still holds. Reports any wait.
     */
    private void awaitPortsFree(Node n) {
        long t0 = System.nanoTime();
        await(n.name() + "'s ports " + n.httpPort + " and " + n.transportPort + " free to bind again")
                .atMost(Duration.ofSeconds(60)).pollInterval(POLL)
                .until(() -> FreePorts.bindable(n.httpPort, true) && FreePorts.bindable(n.transportPort, true));
        double waited = (System.nanoTime() - t0) / 1e9;
        if (waited > 1) {
            report.line("%s's ports were held by other sockets for %.1f s before its restart", n.name(), waited);
        }
    }

    private static Path findJar(Path base) {
        String explicit = System.getProperty("meshinfer.jar");
        if (explicit != null && !explicit.isBlank()) {
            return Path.of(explicit).toAbsolutePath();
        }
        Path target = base.resolve("target");
        try (Stream<Path> files = Files.list(target)) {
            return files.filter(p -> p.getFileName().toString().matches("meshinfer-.*-all\\.jar"))
                    .max(Comparator.comparing(p -> p.toFile().lastModified()))
                    .orElseThrow(() -> new IllegalStateException("no " + target + "/meshinfer-*-all.jar: run"
                            + " `mvn package` first (failsafe runs the scenarios after it)"));
        } catch (IOException e) {
            throw new IllegalStateException("cannot list " + target + ": run `mvn package` first", e);
        }
    }

    private static void deleteRecursively(Path path) {
        if (!Files.exists(path)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(path)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clean " + path, e);
        }
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private static Map<String, String> orderedMap(String... keyValues) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put(keyValues[i], keyValues[i + 1]);
        }
        return Collections.unmodifiableMap(m);
    }
}
