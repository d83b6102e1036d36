package io.meshinfer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValue;
import io.meshinfer.node.MeshConfig;
import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The Kubernetes manifests in {@code deploy/kubernetes} checked against the code they run:
 * the node configuration the StatefulSet's flags and ConfigMap produce (built by the real
 * {@code meshinfer node} option parser) matches the ports, labels and volumes; probes call
 * paths a real node serves; every setting and environment variable is one meshinfer reads;
 * the JVM options fit the resources; the image exposes what the pods use; the pods run with
 * mutual TLS from the mounted Secret (checked by loading a gen-certs.sh node key through it)
 * and serve artifacts on the port the Services and the container name.
 */
class KubernetesManifestsTest {
    private static final Path DIR = Path.of("deploy/kubernetes");
    private static final Path DOCKERFILE = Path.of("deploy/docker/Dockerfile");
    private static final YAMLMapper YAML = new YAMLMapper();
    /** Kind/name → object, over every manifest. */
    private static final Map<String, JsonNode> OBJECTS = new HashMap<>();
    private static final Map<String, List<JsonNode>> BY_FILE = new HashMap<>();

    @TempDir
    Path tmp;

    @BeforeAll
    static void parse() throws IOException {
        try (Stream<Path> files = Files.list(DIR)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
                List<JsonNode> docs = new ArrayList<>();
                try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(f.toFile())) {
                    while (it.hasNext()) {
                        JsonNode doc = it.next();
                        if (doc != null && !doc.isEmpty()) {
                            docs.add(doc);
                        }
                    }
                }
                BY_FILE.put(f.getFileName().toString(), docs);
                for (JsonNode d : docs) {
                    OBJECTS.put(d.path("kind").asText() + "/" + d.path("metadata").path("name").asText(), d);
                }
            }
        }
    }

    private static JsonNode object(String kindAndName) {
        JsonNode o = OBJECTS.get(kindAndName);
        assertNotNull(o, kindAndName + " is in deploy/kubernetes (have " + new TreeSet<>(OBJECTS.keySet()) + ")");
        return o;
    }

    private static JsonNode statefulSet() {
        return object("StatefulSet/meshinfer");
    }

    private static JsonNode podSpec() {
        return statefulSet().path("spec").path("template").path("spec");
    }

    private static JsonNode container(String section, String name) {
        for (JsonNode c : podSpec().path(section)) {
            if (c.path("name").asText().equals(name)) {
                return c;
            }
        }
        return fail("no " + section + " named " + name);
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    private static Map<String, String> env(JsonNode container) {
        Map<String, String> env = new HashMap<>();
        container.path("env").forEach(e -> env.put(e.path("name").asText(), e.path("value").asText(null)));
        return env;
    }

    /** Port name → number of a container. */
    private static Map<String, Integer> ports(JsonNode container) {
        Map<String, Integer> ports = new HashMap<>();
        container.path("ports").forEach(p -> ports.put(p.path("name").asText(), p.path("containerPort").asInt()));
        return ports;
    }

    /**
     * The configuration the main container's node runs with: its args (with the pod's
     * environment substituted as Kubernetes does) parsed by {@code meshinfer node}, and the
     * ConfigMap's files where the pod mounts them.
     */
    private Config nodeConfig() throws IOException {
        return nodeConfig(Map.of());
    }

    /**
     * As {@link #nodeConfig()}, with the mount of each Secret named in {@code secrets} mapped
     * to the given local directory (a Secret's files are not in the manifests).
     */
    private Config nodeConfig(Map<String, Path> secrets) throws IOException {
        JsonNode c = container("containers", "meshinfer");
        List<String> args = strings(c.path("args"));
        assertEquals("node", args.get(0));
        Map<String, String> fieldValues = Map.of("metadata.name", "meshinfer-0", "status.podIP", "10.1.2.3");
        Map<String, String> vars = new HashMap<>();
        c.path("env").forEach(e -> vars.put(e.path("name").asText(), e.has("value") ? e.path("value").asText()
                : fieldValues.get(e.path("valueFrom").path("fieldRef").path("fieldPath").asText())));
        Map<String, Path> mounts = new HashMap<>(configMapMounts(c));
        Map<String, String> secretOfVolume = secretVolumes();
        for (JsonNode m : c.path("volumeMounts")) {
            String secret = secretOfVolume.get(m.path("name").asText());
            Path local = secret == null ? null : secrets.get(secret);
            if (local != null) {
                mounts.put(m.path("mountPath").asText(), local);
            }
        }
        List<String> resolved = new ArrayList<>();
        for (String a : args.subList(1, args.size())) {
            String v = substitute(a, vars);
            for (Map.Entry<String, Path> m : mounts.entrySet()) {
                if (v.equals(m.getKey())) {
                    v = m.getValue().toString();
                } else if (v.startsWith(m.getKey() + "/")) {
                    v = m.getValue().resolve(v.substring(m.getKey().length() + 1)).toString();
                }
            }
            resolved.add(v);
        }
        NodeCommand node = new NodeCommand();
        new CommandLine(node).parseArgs(resolved.toArray(new String[0])); // an unknown flag throws
        return node.buildConfig();
    }

    /** Volume name → Secret name, for each Secret volume of the pod. */
    private static Map<String, String> secretVolumes() {
        Map<String, String> secretOfVolume = new HashMap<>();
        podSpec().path("volumes").forEach(v -> {
            if (v.has("secret")) {
                secretOfVolume.put(v.path("name").asText(), v.path("secret").path("secretName").asText());
            }
        });
        return secretOfVolume;
    }

    /** Mount path → a temporary directory holding the ConfigMap's files, for each ConfigMap volume. */
    private Map<String, Path> configMapMounts(JsonNode container) throws IOException {
        Map<String, String> configMapOfVolume = new HashMap<>();
        podSpec().path("volumes").forEach(v -> {
            if (v.has("configMap")) {
                configMapOfVolume.put(v.path("name").asText(), v.path("configMap").path("name").asText());
            }
        });
        Map<String, Path> mounts = new HashMap<>();
        for (JsonNode m : container.path("volumeMounts")) {
            String cm = configMapOfVolume.get(m.path("name").asText());
            if (cm != null) {
                Path d = Files.createDirectories(tmp.resolve(cm));
                object("ConfigMap/" + cm).path("data").properties().forEach(f -> {
                    try {
                        Files.writeString(d.resolve(f.getKey()), f.getValue().asText());
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                mounts.put(m.path("mountPath").asText(), d);
            }
        }
        return mounts;
    }

    private static String substitute(String arg, Map<String, String> vars) {
        Matcher m = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)").matcher(arg);
        StringBuilder b = new StringBuilder();
        while (m.find()) {
            String v = vars.get(m.group(1));
            assertNotNull(v, "$(" + m.group(1) + ") in args is an env var of the container");
            m.appendReplacement(b, Matcher.quoteReplacement(v));
        }
        return m.appendTail(b).toString();
    }

    @Test
    void everyManifestParsesAndKustomizeAppliesThemAll() {
        JsonNode k = BY_FILE.get("kustomization.yaml").get(0);
        Set<String> listed = new TreeSet<>(strings(k.path("resources")));
        Set<String> files = new TreeSet<>(BY_FILE.keySet());
        files.remove("kustomization.yaml");
        assertEquals(files, listed, "kustomization.yaml lists every manifest");
        String namespace = k.path("namespace").asText();
        Set<String> clusterScoped = Set.of("Namespace", "ClusterRole", "ClusterRoleBinding");
        for (Map.Entry<String, JsonNode> e : OBJECTS.entrySet()) {
            JsonNode o = e.getValue();
            assertFalse(o.path("apiVersion").asText().isEmpty(), e.getKey() + " has an apiVersion");
            if (o.path("kind").asText().equals("Kustomization")) {
                continue;
            }
            if (!clusterScoped.contains(o.path("kind").asText())) {
                assertEquals(namespace, o.path("metadata").path("namespace").asText(), e.getKey() + "'s namespace");
            }
        }
        assertTrue(OBJECTS.containsKey("Namespace/" + namespace));
    }

    @Test
    void portsLabelsAndVolumesMatchTheNodesConfiguration() throws IOException {
        Config config = nodeConfig();
        JsonNode main = container("containers", "meshinfer");
        Map<String, Integer> ports = ports(main);

        assertEquals("kubernetes", config.getString("meshinfer.cluster.bootstrap"));
        assertEquals(Map.of(
                        "remoting", config.getInt("pekko.remote.artery.canonical.port"),
                        "http", config.getInt("meshinfer.http.port"),
                        "management", config.getInt("meshinfer.cluster.kubernetes.management-port"),
                        "artifacts", config.getInt("meshinfer.artifacts.port")),
                ports, "every container port is one the node listens on");
        // every Service port leads to one of them
        for (String service : List.of("Service/meshinfer-headless", "Service/meshinfer")) {
            for (JsonNode p : object(service).path("spec").path("ports")) {
                JsonNode target = p.path("targetPort");
                assertTrue(target.isInt() ? ports.containsValue(target.asInt()) : ports.containsKey(target.asText()),
                        service + " port " + p.path("name").asText() + " targets a container port: " + target);
            }
        }
        assertEquals(config.getInt("meshinfer.cluster.kubernetes.management-port"),
                config.getInt("pekko.management.http.port"));
        String portName = config.getString("pekko.management.cluster.bootstrap.contact-point-discovery.port-name");
        assertTrue(ports.containsKey(portName), "bootstrap finds the management port by its name " + portName);
        assertEquals("10.1.2.3", config.getString("pekko.remote.artery.canonical.hostname"));
        assertEquals("10.1.2.3", config.getString("pekko.management.http.hostname"));
        assertEquals("meshinfer-0", config.getString("meshinfer.node.name"));

        // the label selector bootstrap lists pods with selects the StatefulSet's pods, as do the
        // services and the disruption budget
        String[] selector = config.getString("meshinfer.cluster.kubernetes.pod-label-selector").split("=", 2);
        Map<String, String> selects = Map.of(selector[0], selector[1]);
        JsonNode labels = statefulSet().path("spec").path("template").path("metadata").path("labels");
        assertEquals(selector[1], labels.path(selector[0]).asText(), "pod labels carry " + selects);
        assertEquals(selects, YAML.convertValue(statefulSet().path("spec").path("selector").path("matchLabels"),
                Map.class));
        assertEquals(selects, YAML.convertValue(object("PodDisruptionBudget/meshinfer").path("spec").path("selector")
                .path("matchLabels"), Map.class));
        int replicas = statefulSet().path("spec").path("replicas").asInt();
        assertTrue(config.getInt("meshinfer.cluster.kubernetes.required-contact-point-nr") <= replicas);
        assertEquals("Parallel", statefulSet().path("spec").path("podManagementPolicy").asText(),
                "pods start together: none is ready before the cluster forms");

        for (String service : List.of("Service/meshinfer", "Service/meshinfer-headless")) {
            JsonNode spec = object(service).path("spec");
            assertEquals(selects, YAML.convertValue(spec.path("selector"), Map.class), service + " selector");
            for (JsonNode p : spec.path("ports")) {
                JsonNode target = p.path("targetPort");
                assertTrue(target.isInt() ? ports.containsValue(target.asInt()) : ports.containsKey(target.asText()),
                        service + " targets container port " + target);
            }
        }
        JsonNode headless = object("Service/" + statefulSet().path("spec").path("serviceName").asText()).path("spec");
        assertEquals("None", headless.path("clusterIP").asText());
        assertTrue(headless.path("publishNotReadyAddresses").asBoolean());

        // the data directory and the durable catalog live on the claimed volume
        String claim = statefulSet().path("spec").path("volumeClaimTemplates").get(0).path("metadata").path("name")
                .asText();
        String dataMount = mountPath(main, claim);
        assertTrue(Path.of(config.getString("meshinfer.node.data-dir")).startsWith(dataMount));
        assertTrue(Path.of(config.getString("pekko.cluster.distributed-data.durable.lmdb.dir")).startsWith(dataMount));

        // the topology file the init container writes is the one the node's config includes
        JsonNode init = container("initContainers", "topology");
        List<String> initArgs = strings(init.path("args"));
        String written = initArgs.get(initArgs.indexOf("--out") + 1);
        String volume = mountVolume(init, written);
        assertEquals(mountPath(main, volume), mountPath(init, volume));
        String nodeConf = object("ConfigMap/meshinfer-config").path("data").path("meshinfer.conf").asText();
        assertTrue(nodeConf.contains("include file(\"" + written + "\")"), nodeConf);
        new CommandLine(new KubernetesTopologyCommand()).parseArgs(
                initArgs.stream().skip(1).map(a -> substitute(a, Map.of("NODE_NAME", "worker-1"))).toArray(String[]::new));
        assertEquals("kubernetes-topology", initArgs.get(0));

        // SIGTERM: the preStop pause and the graceful leave fit in the grace period
        long preStop = Long.parseLong(strings(main.path("lifecycle").path("preStop").path("exec").path("command"))
                .get(1));
        long grace = podSpec().path("terminationGracePeriodSeconds").asLong();
        assertTrue(preStop + config.getDuration("meshinfer.node.leave-timeout").toSeconds() < grace,
                "preStop " + preStop + " s + leave-timeout < terminationGracePeriodSeconds " + grace);
        assertTrue(Set.of("text", "json").contains(config.getString("meshinfer.logging.format")));
    }

    private static String mountPath(JsonNode container, String volume) {
        for (JsonNode m : container.path("volumeMounts")) {
            if (m.path("name").asText().equals(volume)) {
                return m.path("mountPath").asText();
            }
        }
        return fail(container.path("name").asText() + " mounts volume " + volume);
    }

    private static String mountVolume(JsonNode container, String path) {
        for (JsonNode m : container.path("volumeMounts")) {
            if (Path.of(path).startsWith(m.path("mountPath").asText())) {
                return m.path("name").asText();
            }
        }
        return fail(path + " is on a volume of " + container.path("name").asText());
    }

    @Test
    void podsRunWithMutualTlsFromTheMountedSecretAndServeArtifactsOnlyOnTheirTlsPort() throws IOException {
        Config config = nodeConfig();
        JsonNode main = container("containers", "meshinfer");
        String tlsDir = config.getString("meshinfer.security.tls-dir");
        assertFalse(tlsDir.isBlank(), "the node runs with --tls-dir (meshinfer.security.tls-dir)");
        assertTrue(io.meshinfer.security.tls.ClusterTls.enabled(config), "the cluster transport is Artery "
                + io.meshinfer.security.tls.ClusterTls.TLS_TRANSPORT);

        // the TLS directory is exactly a read-only Secret mount, without subPath (a subPath mount
        // never sees the kubelet's updates: rotation would need a restart)
        String volume = mountVolume(main, tlsDir);
        JsonNode mount = null;
        for (JsonNode m : main.path("volumeMounts")) {
            if (m.path("name").asText().equals(volume)) {
                mount = m;
            }
        }
        assertNotNull(mount);
        assertEquals(tlsDir, mount.path("mountPath").asText(), "the Secret is mounted at the TLS directory itself");
        assertTrue(mount.path("readOnly").asBoolean(), "mounted read-only");
        assertFalse(mount.has("subPath"), "no subPath: the kubelet must be able to update the files in place");
        String secret = secretVolumes().get(volume);
        assertEquals("meshinfer-tls", secret, "the TLS directory is the Secret meshinfer-tls");
        JsonNode secretVolume = null;
        for (JsonNode v : podSpec().path("volumes")) {
            if (v.path("name").asText().equals(volume)) {
                secretVolume = v.path("secret");
            }
        }
        assertFalse(secretVolume.path("optional").asBoolean(false), "a pod does not start without its keys");
        assertFalse(secretVolume.has("items"), "the Secret's keys are the file names the node reads");
        int mode = secretVolume.path("defaultMode").asInt(0644);
        assertEquals(0, mode & 0007, "the key is not readable by others: mode " + Integer.toOctalString(mode));
        // how to create it is documented with the manifests and in the README
        for (String doc : List.of(Files.readString(DIR.resolve("statefulset.yaml")),
                Files.readString(Path.of("README.md")))) {
            assertTrue(doc.contains("create secret generic " + secret), "documents creating the Secret " + secret);
            for (String file : List.of(io.meshinfer.security.tls.TlsSettings.KEY_FILE,
                    io.meshinfer.security.tls.TlsSettings.CERT_FILE, io.meshinfer.security.tls.TlsSettings.CA_FILE)) {
                assertTrue(doc.contains("/" + file), "the documented Secret holds " + file);
            }
        }

        // a node key from gen-certs.sh, as the documented command puts it into the Secret, is one
        // the node accepts, and it then serves artifacts on the TLS port the manifests name
        Path certs = tmp.resolve("certs");
        io.meshinfer.security.tls.TestCertificates.generate(certs, "meshinfer-node");
        Config withKeys = nodeConfig(Map.of(secret, certs.resolve("meshinfer-node")));
        io.meshinfer.security.tls.NodeTls tls = io.meshinfer.security.tls.NodeTls.fromConfig(withKeys);
        assertTrue(tls.artifactServerContext().isPresent(), "artifacts are served over mutual TLS");
        int artifactPort = withKeys.getInt("meshinfer.artifacts.port");
        assertTrue(artifactPort > 0, "a fixed artifact port, which the container and the Service can name");
        assertEquals(artifactPort, ports(main).get("artifacts"));
        boolean headless = false;
        for (JsonNode p : object("Service/meshinfer-headless").path("spec").path("ports")) {
            headless |= p.path("targetPort").asText().equals("artifacts") && p.path("port").asInt() == artifactPort;
        }
        assertTrue(headless, "the headless Service lists the artifact port");

        // the probes speak what the HTTP port serves
        String scheme = config.getBoolean("meshinfer.http.tls.enabled") ? "HTTPS" : "HTTP";
        for (String probe : List.of("startupProbe", "livenessProbe", "readinessProbe")) {
            assertEquals(scheme, main.path(probe).path("httpGet").path("scheme").asText("HTTP"), probe);
        }
    }

    @Test
    void probesCallPathsARealNodeServes() {
        List<JsonNode> probes = new ArrayList<>();
        JsonNode main = container("containers", "meshinfer");
        for (String probe : List.of("startupProbe", "livenessProbe", "readinessProbe")) {
            assertTrue(main.has(probe), probe);
            probes.add(main.path(probe).path("httpGet"));
        }
        Map<String, Integer> ports = ports(main);
        try (TestNode node = TestNode.start()) {
            for (JsonNode get : probes) {
                JsonNode port = get.path("port");
                assertEquals(ports.get("http"), port.isInt() ? port.asInt() : ports.get(port.asText()),
                        "probes call the HTTP port");
                String path = get.path("path").asText();
                Http.Reply r = Http.get(node.url() + path);
                assertEquals(200, r.status(), path + " on a ready node: " + r.body());
            }
        }
        assertEquals(Set.of("/v2/health/live", "/v2/health/ready"), new HashSet<>(probes.stream()
                .map(p -> p.path("path").asText()).toList()));
    }

    @Test
    void everySettingAndEnvironmentVariableIsOneMeshinferReads() throws IOException {
        Config reference = MeshConfig.load().resolve();
        String nodeConf = object("ConfigMap/meshinfer-config").path("data").path("meshinfer.conf").asText();
        for (Map.Entry<String, ConfigValue> e : ConfigFactory.parseString(nodeConf).entrySet()) {
            assertTrue(e.getKey().startsWith("meshinfer."), e.getKey() + " is a meshinfer setting");
            assertTrue(reference.hasPath(e.getKey()), e.getKey() + " is in reference.conf");
        }
        String readers = Files.readString(Path.of("src/main/resources/reference.conf"))
                + Files.readString(Path.of("src/main/resources/logback.xml")) + Files.readString(DOCKERFILE);
        for (String section : List.of("initContainers", "containers")) {
            for (JsonNode c : podSpec().path(section)) {
                String args = String.join(" ", strings(c.path("args")));
                for (String name : env(c).keySet()) {
                    boolean usedInArgs = args.contains("$(" + name + ")");
                    boolean readByMeshinfer = name.startsWith("MESHINFER_") && (readers.contains("${?" + name + "}")
                            || readers.contains("${" + name) || readers.contains("$" + name));
                    assertTrue(usedInArgs || readByMeshinfer, c.path("name").asText() + " sets " + name
                            + ", which neither its args nor meshinfer read");
                }
            }
        }
    }

    @Test
    void resourcesMatchTheJvmOptions() throws IOException {
        JsonNode main = container("containers", "meshinfer");
        JsonNode resources = main.path("resources");
        assertEquals(resources.path("requests"), resources.path("limits"), "requests equal limits (Guaranteed QoS)");
        long memory = bytes(resources.path("limits").path("memory").asText());
        double cpus = cpus(resources.path("limits").path("cpu").asText());
        Map<String, String> jvm = jvmOptions(env(main).get("MESHINFER_JAVA_OPTS"));
        long heap = bytes(jvm.get("-Xmx"));
        long direct = bytes(jvm.get("-XX:MaxDirectMemorySize"));
        assertTrue(bytes(jvm.get("-Xms")) <= heap);
        assertTrue(heap + direct <= memory / 2, "heap " + heap + " + direct " + direct + " leave at least half of"
                + " the " + memory + "-byte limit to ONNX Runtime (native), metaspace and threads");
        assertEquals(cpus, Double.parseDouble(jvm.get("-XX:ActiveProcessorCount")), "the JVM sizes its pools by the"
                + " CPU limit");
        assertTrue(nodeConfig().getInt("meshinfer.runtime-dispatcher.spinning-executor.pool-size") <= cpus,
                "model runs at once fit the cores");

        JsonNode init = container("initContainers", "topology");
        Map<String, String> initJvm = jvmOptions(env(init).get("MESHINFER_JAVA_OPTS"));
        assertTrue(bytes(initJvm.get("-Xmx")) + (96L << 20)
                <= bytes(init.path("resources").path("limits").path("memory").asText()));
    }

    @Test
    void thePodsServiceAccountMayListPodsAndReadNodes() {
        String account = podSpec().path("serviceAccountName").asText();
        object("ServiceAccount/" + account);
        assertGrants("RoleBinding", "Role", account, "pods", Set.of("get", "list", "watch"));
        assertGrants("ClusterRoleBinding", "ClusterRole", account, "nodes", Set.of("get"));
    }

    private static void assertGrants(String bindingKind, String roleKind, String account, String resource,
                                     Set<String> verbs) {
        for (JsonNode binding : OBJECTS.values()) {
            if (!binding.path("kind").asText().equals(bindingKind)) {
                continue;
            }
            boolean toAccount = false;
            for (JsonNode s : binding.path("subjects")) {
                toAccount |= s.path("kind").asText().equals("ServiceAccount") && s.path("name").asText().equals(account);
            }
            JsonNode role = object(roleKind + "/" + binding.path("roleRef").path("name").asText());
            for (JsonNode rule : role.path("rules")) {
                if (toAccount && strings(rule.path("resources")).contains(resource)
                        && new HashSet<>(strings(rule.path("verbs"))).containsAll(verbs)) {
                    return;
                }
            }
        }
        fail("a " + bindingKind + " grants " + verbs + " on " + resource + " to service account " + account);
    }

    @Test
    void theImageExposesThePodsPortsAndRunsAsThePodsUser() throws IOException {
        String dockerfile = Files.readString(DOCKERFILE);
        Set<Integer> exposed = new HashSet<>();
        Matcher m = Pattern.compile("(?m)^EXPOSE\\s+(.+)$").matcher(dockerfile);
        while (m.find()) {
            for (String p : m.group(1).trim().split("\\s+")) {
                exposed.add(Integer.parseInt(p));
            }
        }
        assertEquals(new HashSet<>(ports(container("containers", "meshinfer")).values()), exposed);
        assertTrue(dockerfile.contains("USER " + podSpec().path("securityContext").path("runAsUser").asInt()));
        assertTrue(dockerfile.contains("FROM eclipse-temurin:17-jre"), "a glibc-based Temurin 17 JRE");
    }

    /** Option → value of JVM options like {@code -Xmx1g} and {@code -XX:Name=value}. */
    private static Map<String, String> jvmOptions(String options) {
        assertNotNull(options, "MESHINFER_JAVA_OPTS is set");
        Map<String, String> out = new HashMap<>();
        for (String o : options.trim().split("\\s+")) {
            if (o.startsWith("-Xmx") || o.startsWith("-Xms")) {
                out.put(o.substring(0, 4), o.substring(4));
            } else if (o.contains("=")) {
                out.put(o.substring(0, o.indexOf('=')), o.substring(o.indexOf('=') + 1));
            }
        }
        return out;
    }

    /** Bytes of a JVM size ({@code 256m}, {@code 1g}) or a Kubernetes quantity ({@code 3Gi}, {@code 192Mi}). */
    private static long bytes(String size) {
        assertNotNull(size);
        Matcher m = Pattern.compile("(\\d+)([kKmMgG]i?)?").matcher(size);
        assertTrue(m.matches(), "a size: " + size);
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "" : m.group(2).substring(0, 1).toLowerCase(java.util.Locale.ROOT);
        return switch (unit) {
            case "k" -> n << 10;
            case "m" -> n << 20;
            case "g" -> n << 30;
            default -> n;
        };
    }

    private static double cpus(String quantity) {
        return quantity.endsWith("m") ? Double.parseDouble(quantity.substring(0, quantity.length() - 1)) / 1000
                : Double.parseDouble(quantity);
    }
}
