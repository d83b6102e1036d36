package io.meshinfer.security.tls;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Certificates for tests, made by the script users run ({@code scripts/gen-certs.sh}, which
 * needs openssl): a CA in a directory and, per node, {@code <dir>/<node>/tls.key},
 * {@code tls.crt} and {@code ca.crt}. Running it again for a node in the same directory
 * issues a new key and certificate from the same CA (a rotation).
 */
public final class TestCertificates {
    private TestCertificates() {
    }

    /** Creates (or reuses) the CA in {@code dir} and issues a key and certificate for each node. */
    public static void generate(Path dir, String... nodes) {
        run(List.of(), dir, nodes);
    }

    /** As {@link #generate}, for a cluster named {@code cluster} (the name its certificates share). */
    public static void generateForCluster(String cluster, Path dir, String... nodes) {
        run(List.of("--cluster-name", cluster), dir, nodes);
    }

    private static void run(List<String> options, Path dir, String... nodes) {
        List<String> cmd = new ArrayList<>(List.of("bash", script().toString(), "--days", "30"));
        cmd.addAll(options);
        cmd.add(dir.toString());
        cmd.addAll(Arrays.asList(nodes));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("gen-certs.sh did not finish within 60 s: " + out);
            }
            if (p.exitValue() != 0) {
                throw new IllegalStateException("gen-certs.sh failed (exit " + p.exitValue() + "; it needs openssl:"
                        + " apt-get install -y openssl): " + out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The serial number of the certificate of {@code node} in {@code dir}. */
    public static BigInteger serial(Path dir, String node) {
        try {
            return PemFiles.certificates(dir.resolve(node).resolve(TlsSettings.CERT_FILE)).get(0).getSerialNumber();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path script() {
        Path base = Path.of(System.getProperty("basedir", System.getProperty("user.dir")));
        Path script = base.resolve("scripts").resolve("gen-certs.sh");
        if (!Files.isRegularFile(script)) {
            throw new IllegalStateException("no " + script + " (run the tests from the repository root)");
        }
        return script;
    }
}
