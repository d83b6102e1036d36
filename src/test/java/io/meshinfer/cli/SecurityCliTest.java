package io.meshinfer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.api.Principal;
import io.meshinfer.security.AuditLog;
import io.meshinfer.security.AuditRecord;
import io.meshinfer.security.AuditSettings;
import io.meshinfer.security.Authenticator;
import io.meshinfer.security.TokenKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import io.meshinfer.testkit.CliRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code meshinfer token keygen|issue} and {@code meshinfer audit verify}: their output and exit codes. */
class SecurityCliTest {
    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void keygenWritesAPairOnceAndIssueSignsTokensItVerifies(@TempDir Path dir) throws Exception {
        Path keys = dir.resolve("keys");
        CliRun keygen = run("token", "keygen", "--out", keys.toString());
        assertEquals(0, keygen.code(), keygen.err());
        Path signing = keys.resolve(TokenKeys.SIGNING_FILE);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(signing)));
        assertTrue(Files.isRegularFile(keys.resolve(TokenKeys.VERIFY_FILE)));
        String before = Files.readString(signing);
        CliRun again = run("token", "keygen", "--out", keys.toString());
        assertEquals(1, again.code());
        assertTrue(again.err().contains("refusing to overwrite"), again.err());
        assertEquals(before, Files.readString(signing), "the existing key is untouched");

        CliRun issued = run("token", "issue", "--private-key", signing.toString(), "--subject", "ops",
                "--roles", "admin", "--models", "m1,m2", "--regions", "eu-west,eu-central", "--ttl", "2h");
        assertEquals(0, issued.code(), issued.err());
        String jwt = issued.out().strip();
        assertEquals(3, jwt.split("\\.").length, jwt);
        Authenticator auth = Authenticator.fromFile(keys.resolve(TokenKeys.VERIFY_FILE), Duration.ofSeconds(30));
        Principal p = assertInstanceOf(Authenticator.Authenticated.class,
                auth.authenticate("Bearer " + jwt, Instant.now())).principal();
        assertEquals("ops", p.subject());
        assertEquals(Set.of("admin"), p.roles());
        assertEquals(Set.of("m1", "m2"), p.models());
        assertEquals(Set.of("eu-west", "eu-central"), p.regions());
        assertInstanceOf(Authenticator.Refused.class, auth.authenticate("Bearer " + jwt,
                Instant.now().plus(Duration.ofHours(2)).plusSeconds(60)), "expires after its ttl");

        assertEquals(2, run("token", "issue", "--private-key", signing.toString(), "--subject", "x",
                "--models", "*", "--regions", "*", "--ttl", "soon").code(), "a bad ttl is a usage error");
        assertEquals(2, run("token", "issue", "--private-key", signing.toString(), "--subject", "x",
                "--regions", "*").code(), "--models is required");
        assertEquals(1, run("token", "issue", "--private-key", keys.resolve(TokenKeys.VERIFY_FILE).toString(),
                "--subject", "x", "--models", "*", "--regions", "*").code(), "a public key cannot sign");
        assertEquals(0, run("token", "--help").code());
        assertEquals(0, run("audit", "verify", "--help").code());
    }

    @Test
    void auditVerifyExitsZeroWhenIntactOneWhenTamperedTwoWhenUnreadable(@TempDir Path dir) throws Exception {
        Path audit = dir.resolve("audit");
        AuditLog log = AuditLog.open(new AuditSettings(Optional.of(audit), 1024, 64, AuditSettings.WhenFull.REFUSE,
                false), "n1", "eu");
        for (int i = 0; i < 12; i++) {
            log.reserve().write(new AuditRecord(Instant.now(), "r" + i, "alice", "infer", "m", "1", "n1", "eu",
                    List.of(), "ok", 1, "http", null));
        }
        log.close();
        List<Path> files = AuditLog.files(audit);
        assertTrue(files.size() > 1, "rotated: " + files);

        String[] all = files.stream().map(Path::toString).toArray(String[]::new);
        CliRun intact = run(concat(new String[] {"audit", "verify"}, all));
        assertEquals(0, intact.code(), intact.out() + intact.err());
        assertTrue(intact.out().startsWith("intact: " + (12 + files.size()) + " records"), intact.out());
        assertEquals(0, run("audit", "verify", audit.toString()).code(), "a directory: its files in order");

        List<String> lines = Files.readAllLines(files.get(0));
        lines.set(2, lines.get(2).replace("\"r1\"", "\"r1-forged\""));
        Files.writeString(files.get(0), String.join("\n", lines) + "\n");
        CliRun tampered = run(concat(new String[] {"audit", "verify"}, all));
        assertEquals(1, tampered.code(), tampered.out());
        assertTrue(tampered.out().contains("TAMPERED: " + files.get(0).getFileName() + " line 3: altered"),
                tampered.out());

        CliRun missing = run("audit", "verify", dir.resolve("nope.jsonl").toString());
        assertEquals(2, missing.code());
        assertEquals(2, run("audit", "verify").code(), "no file is a usage error");
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
