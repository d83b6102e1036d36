package io.meshinfer.testkit;

import io.meshinfer.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * A {@code meshinfer} command run in this JVM as a user runs it: its exit code and what it
 * printed on stdout and stderr. Runs are serialized, since they swap the process-wide
 * {@code System.out} and {@code System.err}.
 */
public record CliRun(int code, String out, String err) {
    private static final Object LOCK = new Object();

    public static CliRun of(String... args) {
        synchronized (LOCK) {
            PrintStream out = System.out;
            PrintStream err = System.err;
            ByteArrayOutputStream o = new ByteArrayOutputStream();
            ByteArrayOutputStream e = new ByteArrayOutputStream();
            try {
                System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
                System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
                int code = Main.run(args);
                return new CliRun(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
            } finally {
                System.setOut(out);
                System.setErr(err);
            }
        }
    }
}
