package io.meshinfer.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.Txn;

/**
 * LMDB loaded through {@link LmdbNative} works and leaves no copy of its library in the
 * temporary directory, even when the process halts (as a node does after SIGTERM). Run in a
 * child JVM with a temporary directory of its own, since this JVM may have loaded LMDB already.
 */
class LmdbNativeTest {

    @Test
    void aHaltedProcessLeavesNoCopyOfLmdbBehind(@TempDir Path tmp) throws Exception {
        Path childTmp = Files.createDirectory(tmp.resolve("child-tmp"));
        Path store = Files.createDirectory(tmp.resolve("store"));
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx64m", "--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens",
                "java.base/sun.nio.ch=ALL-UNNAMED", "-Djava.io.tmpdir=" + childTmp,
                "-cp", System.getProperty("java.class.path"), Child.class.getName(), store.toString())
                .redirectErrorStream(true).redirectOutput(tmp.resolve("child.log").toFile()).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child JVM did not end");
        String log = Files.readString(tmp.resolve("child.log"));
        assertEquals(0, p.exitValue(), log);
        assertTrue(log.contains("read back: meshinfer"), log);
        try (Stream<Path> left = Files.list(childTmp)) {
            assertEquals(List.of(), left.map(f -> f.getFileName().toString()).toList(),
                    "files left in the child's temporary directory");
        }
    }

    /** Loads LMDB as a node does, uses it, and halts without the JVM's exit hooks. */
    static final class Child {
        public static void main(String[] args) {
            System.out.println("copied to and removed: " + LmdbNative.load().orElse(null));
            try (Env<ByteBuffer> env = Env.create().setMapSize(1 << 20).setMaxDbs(1).open(new File(args[0]))) {
                Dbi<ByteBuffer> db = env.openDbi("t", DbiFlags.MDB_CREATE);
                db.put(buffer("k"), buffer("meshinfer"));
                try (Txn<ByteBuffer> txn = env.txnRead()) {
                    ByteBuffer v = db.get(txn, buffer("k"));
                    byte[] b = new byte[v.remaining()];
                    v.get(b);
                    System.out.println("read back: " + new String(b, StandardCharsets.UTF_8));
                }
            }
            System.out.flush();
            Runtime.getRuntime().halt(0);
        }

        private static ByteBuffer buffer(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            return ByteBuffer.allocateDirect(b.length).put(b).flip();
        }
    }
}
