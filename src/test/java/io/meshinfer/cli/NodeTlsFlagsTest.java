package io.meshinfer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code meshinfer node --tls-dir DIR --https}: the flags become the settings Pekko and the gateway read. */
class NodeTlsFlagsTest {

    private static Config configOf(String... args) {
        NodeCommand cmd = new NodeCommand();
        new CommandLine(cmd).parseArgs(args);
        return cmd.buildConfig();
    }

    @Test
    void withoutFlagsTheNodeRunsPlainTcpAndHttp() {
        Config c = configOf();
        assertEquals("tcp", c.getString("pekko.remote.artery.transport"));
        assertEquals("", c.getString("meshinfer.security.tls-dir"));
        assertFalse(c.getBoolean("meshinfer.http.tls.enabled"));
        assertEquals(0, c.getInt("meshinfer.artifacts.port"), "any free port unless fixed");
    }

    @Test
    void tlsDirAndHttpsFlagsReachPekkoAndTheGateway(@TempDir Path tmp) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("node1"));
        Config c = configOf("--tls-dir", dir.toString(), "--https", "--artifact-port", "8443");
        assertEquals(8443, c.getInt("meshinfer.artifacts.port"));
        assertEquals("tls-tcp", c.getString("pekko.remote.artery.transport"));
        assertEquals("org.apache.pekko.remote.artery.tcp.ssl.RotatingKeysSSLEngineProvider",
                c.getString("pekko.remote.artery.ssl.ssl-engine-provider"));
        assertEquals(dir.resolve("tls.key").toString(),
                c.getString("pekko.remote.artery.ssl.rotating-keys-engine.key-file"));
        assertEquals(dir.resolve("tls.crt").toString(),
                c.getString("pekko.remote.artery.ssl.rotating-keys-engine.cert-file"));
        assertEquals(dir.resolve("ca.crt").toString(),
                c.getString("pekko.remote.artery.ssl.rotating-keys-engine.ca-cert-file"));
        assertEquals(c.getDuration("meshinfer.security.tls-refresh-interval"),
                c.getDuration("pekko.remote.artery.ssl.rotating-keys-engine.ssl-context-cache-ttl"));
        assertTrue(c.getBoolean("meshinfer.http.tls.enabled"));
    }

    @Test
    void flagsOverrideTheConfigFile(@TempDir Path tmp) throws Exception {
        Path fromFile = Files.createDirectories(tmp.resolve("from-file"));
        Path fromFlag = Files.createDirectories(tmp.resolve("from-flag"));
        Path conf = tmp.resolve("node.conf");
        Files.writeString(conf, "meshinfer.security.tls-dir = \"" + fromFile + "\"\n");
        assertEquals(fromFile.toString(), configOf("--config", conf.toString()).getString(
                "meshinfer.security.tls-dir"));
        assertEquals("tls-tcp", configOf("--config", conf.toString()).getString("pekko.remote.artery.transport"));
        assertEquals(fromFlag.toString(), configOf("--config", conf.toString(), "--tls-dir", fromFlag.toString())
                .getString("meshinfer.security.tls-dir"));
    }
}
