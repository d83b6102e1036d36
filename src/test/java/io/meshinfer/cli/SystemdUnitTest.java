package io.meshinfer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import io.meshinfer.node.MeshConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The systemd unit template and its example environment file checked against the node: the
 * command line it runs parses as {@code meshinfer node}, the stop timeout outlasts the
 * graceful leave, the JVM fits the memory cap, every variable is one meshinfer reads.
 */
class SystemdUnitTest {
    private static final Path UNIT = Path.of("deploy/systemd/meshinfer@.service");
    private static final Path ENV = Path.of("deploy/systemd/node.env.example");

    /** Section → key → values (a key may repeat), comments and blank lines dropped. */
    private static Map<String, Map<String, List<String>>> unit() throws IOException {
        Map<String, Map<String, List<String>>> sections = new LinkedHashMap<>();
        Map<String, List<String>> current = null;
        for (String line : Files.readAllLines(UNIT)) {
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("#")) {
                continue;
            }
            if (l.startsWith("[")) {
                current = sections.computeIfAbsent(l.substring(1, l.length() - 1), k -> new LinkedHashMap<>());
                continue;
            }
            assertNotNull(current, "a key before any section: " + l);
            int eq = l.indexOf('=');
            current.computeIfAbsent(l.substring(0, eq), k -> new ArrayList<>()).add(l.substring(eq + 1));
        }
        return sections;
    }

    private static String one(Map<String, List<String>> section, String key) {
        List<String> v = section.get(key);
        assertNotNull(v, key + " is set");
        assertEquals(1, v.size(), key + " is set once");
        return v.get(0);
    }

    /** The variables of the unit's {@code Environment=} lines, then the example file's. */
    private static Map<String, String> environment(Map<String, List<String>> service, boolean withExample)
            throws IOException {
        Map<String, String> env = new HashMap<>();
        for (String e : service.get("Environment")) {
            String assignment = e.startsWith("\"") ? e.substring(1, e.length() - 1) : e;
            env.put(assignment.substring(0, assignment.indexOf('=')), assignment.substring(assignment.indexOf('=') + 1));
        }
        if (withExample) {
            for (String line : Files.readAllLines(ENV)) {
                if (!line.isBlank() && !line.startsWith("#")) {
                    env.put(line.substring(0, line.indexOf('=')), line.substring(line.indexOf('=') + 1));
                }
            }
        }
        return env;
    }

    /** ExecStart as systemd runs it for instance {@code name}: specifiers and $VARS expanded, split in words. */
    private static List<String> execStart(Map<String, List<String>> service, Map<String, String> env, String name) {
        String exec = one(service, "ExecStart").replace("%i", name).replace("%S", "/var/lib");
        List<String> words = new ArrayList<>();
        for (String w : exec.trim().split("\\s+")) {
            Matcher m = Pattern.compile("^\\$([A-Z_][A-Z0-9_]*)$").matcher(w);
            if (m.matches()) {
                String value = env.get(m.group(1));
                assertNotNull(value, "$" + m.group(1) + " is set by the unit or the environment file");
                words.addAll(List.of(value.trim().split("\\s+")));
            } else {
                words.add(w);
            }
        }
        return words;
    }

    @Test
    void theUnitRunsANodeNamedAfterItsInstanceWithItsOwnEnvironmentFile() throws IOException {
        Map<String, List<String>> service = unit().get("Service");
        assertEquals("/etc/meshinfer/%i.env", one(service, "EnvironmentFile"));
        assertEquals("meshinfer/%i", one(service, "StateDirectory"));
        List<String> argv = execStart(service, environment(service, true), "edge-1");
        int node = argv.indexOf("node");
        assertEquals("-jar", argv.get(node - 2));
        NodeCommand command = new NodeCommand();
        new CommandLine(command).parseArgs(argv.subList(node + 1, argv.size()).toArray(new String[0]));
        Config config = command.buildConfig();
        assertEquals("edge-1", config.getString("meshinfer.node.name"));
        assertEquals("/var/lib/meshinfer/edge-1", config.getString("meshinfer.node.data-dir"));
        assertEquals("factory-3", config.getString("meshinfer.node.zone"));
        assertEquals(List.of("pekko://meshinfer@10.20.0.11:25520", "pekko://meshinfer@10.20.0.12:25520"),
                config.getStringList("pekko.cluster.seed-nodes"));
        assertEquals("/etc/meshinfer/tls/edge-1", config.getString("meshinfer.security.tls-dir"),
                "production nodes run with mutual TLS");
        assertTrue(io.meshinfer.security.tls.ClusterTls.enabled(config));
        assertTrue(config.getInt("meshinfer.artifacts.port") > 0, "a fixed artifact port, for the firewall");
    }

    @Test
    void aStopOutlastsTheGracefulLeaveAndFailuresRestart() throws IOException {
        Map<String, List<String>> service = unit().get("Service");
        Config reference = MeshConfig.load().resolve();
        assertEquals("SIGTERM", one(service, "KillSignal"));
        assertEquals("mixed", one(service, "KillMode"), "SIGTERM to the JVM alone, SIGKILL to stragglers");
        long stop = Long.parseLong(one(service, "TimeoutStopSec"));
        assertTrue(stop > reference.getDuration("meshinfer.node.leave-timeout").toSeconds(),
                "TimeoutStopSec " + stop + " outlasts meshinfer.node.leave-timeout");
        assertEquals("on-failure", one(service, "Restart"));
    }

    @Test
    void theJvmFitsTheMemoryCapAndEveryVariableIsOneMeshinferReads() throws IOException {
        Map<String, List<String>> service = unit().get("Service");
        long memoryMax = bytes(one(service, "MemoryMax"));
        for (Map<String, String> env : List.of(environment(service, false), environment(service, true))) {
            Map<String, String> jvm = new HashMap<>();
            for (String o : env.get("MESHINFER_JAVA_OPTS").trim().split("\\s+")) {
                if (o.startsWith("-Xmx")) {
                    jvm.put("-Xmx", o.substring(4));
                } else if (o.startsWith("-XX:MaxDirectMemorySize=")) {
                    jvm.put("direct", o.substring(o.indexOf('=') + 1));
                }
            }
            assertTrue(bytes(jvm.get("-Xmx")) + bytes(jvm.get("direct")) <= memoryMax / 2,
                    "heap and direct memory leave half of MemoryMax to ONNX Runtime: " + env.get("MESHINFER_JAVA_OPTS"));
        }
        int cpus = Integer.parseInt(one(service, "CPUQuota").replace("%", "")) / 100;
        assertTrue(MeshConfig.load().resolve().getInt("meshinfer.runtime-dispatcher.spinning-executor.pool-size")
                <= cpus, "model runs at once fit the CPU quota");

        String exec = one(service, "ExecStart");
        String readers = Files.readString(Path.of("src/main/resources/reference.conf"))
                + Files.readString(Path.of("src/main/resources/logback.xml"));
        for (String name : environment(service, true).keySet()) {
            assertTrue(exec.contains("$" + name) || readers.contains("${?" + name + "}") || readers.contains("${" + name),
                    name + " is used by ExecStart or read by meshinfer");
        }
    }

    private static long bytes(String size) {
        assertNotNull(size);
        Matcher m = Pattern.compile("(\\d+)([KMG])?", Pattern.CASE_INSENSITIVE).matcher(size);
        assertTrue(m.matches(), size);
        long n = Long.parseLong(m.group(1));
        return m.group(2) == null ? n : n << switch (Character.toUpperCase(m.group(2).charAt(0))) {
            case 'K' -> 10;
            case 'M' -> 20;
            default -> 30;
        };
    }
}
