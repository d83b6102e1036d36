package io.meshinfer.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The audit log and its verifier, without a node: records written through the real
 * writer thread, then files tampered with in every way the verifier must name (the right
 * line and the right kind), rotation verified as one chain, a restart continuing it, and
 * the bounded queue refusing or dropping.
 */
class AuditLogTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static AuditSettings settings(Path dir, long maxFileBytes, int capacity, AuditSettings.WhenFull whenFull) {
        return new AuditSettings(Optional.of(dir), maxFileBytes, capacity, whenFull, false);
    }

    private static AuditRecord record(int i) {
        return new AuditRecord(Instant.parse("2025-01-01T00:00:00Z").plusSeconds(i), "req-" + i, "alice", "infer",
                "mlp", "1", "n1", "eu", List.of("eu"), i % 5 == 0 ? "overloaded" : "ok", 1.5 + i, "http", null);
    }

    /** Writes {@code n} records (plus the file header) and closes the log, so everything is on disk. */
    private static List<Path> write(Path dir, int n, long maxFileBytes) throws IOException {
        AuditLog log = AuditLog.open(settings(dir, maxFileBytes, 1024, AuditSettings.WhenFull.REFUSE), "n1", "eu");
        for (int i = 1; i <= n; i++) {
            AuditLog.Ticket t = log.reserve();
            assertNotNull(t);
            t.write(record(i));
        }
        log.close();
        assertEquals(0, log.dropped());
        return AuditLog.files(dir);
    }

    private static AuditVerifier.Result verify(List<Path> files) throws IOException {
        return AuditVerifier.verify(files);
    }

    private static List<String> lines(Path file) throws IOException {
        return new ArrayList<>(Files.readAllLines(file, StandardCharsets.UTF_8));
    }

    private static void rewrite(Path file, List<String> lines) throws IOException {
        Files.writeString(file, String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
    }

    private static void assertProblem(AuditVerifier.Result r, Path file, long line, String kind) {
        assertFalse(r.intact(), "tampering not detected");
        assertEquals(file, r.problem().file(), r.problem().toString());
        assertEquals(line, r.problem().line(), r.problem().toString());
        assertTrue(r.problem().message().startsWith(kind), r.problem().toString());
    }

    @Test
    void writtenRecordsFormAnIntactChainWithoutPayloads(@TempDir Path dir) throws IOException {
        List<Path> files = write(dir, 20, 1 << 20);
        assertEquals(1, files.size());
        AuditVerifier.Result r = verify(files);
        assertTrue(r.intact(), String.valueOf(r.problem()));
        assertEquals(21, r.records()); // the file header and 20 records
        assertEquals(1, r.firstSeq());
        assertEquals(21, r.lastSeq());

        List<String> lines = lines(files.get(0));
        JsonNode header = JSON.readTree(lines.get(0));
        assertEquals(AuditChain.OPEN_ACTION, header.get("action").asText());
        assertEquals(AuditChain.GENESIS, header.get("prev").asText());
        JsonNode first = JSON.readTree(lines.get(1));
        assertEquals(2, first.get("seq").asLong());
        assertEquals("req-1", first.get("id").asText());
        assertEquals("alice", first.get("principal").asText());
        assertEquals("infer", first.get("action").asText());
        assertEquals("[\"eu\"]", first.get("residency").toString());
        assertEquals(2.5, first.get("latency_ms").asDouble());
        assertEquals(header.get("hash").asText(), first.get("prev").asText());
        assertEquals(r.lastHash(), JSON.readTree(lines.get(20)).get("hash").asText());
    }

    @Test
    void anAlteredFieldIsNamed(@TempDir Path dir) throws IOException {
        Path f = write(dir, 10, 1 << 20).get(0);
        List<String> lines = lines(f);
        lines.set(4, lines.get(4).replace("\"principal\":\"alice\"", "\"principal\":\"mallory\""));
        rewrite(f, lines);
        assertProblem(verify(List.of(f)), f, 5, "altered");
    }

    @Test
    void anAlteredLastRecordIsNamed(@TempDir Path dir) throws IOException {
        Path f = write(dir, 10, 1 << 20).get(0);
        List<String> lines = lines(f);
        lines.set(10, lines.get(10).replace("\"outcome\":\"overloaded\"", "\"outcome\":\"ok\""));
        rewrite(f, lines);
        assertProblem(verify(List.of(f)), f, 11, "altered");
    }

    @Test
    void aRecordWhoseHashWasRecomputedIsStillNamed(@TempDir Path dir) throws IOException {
        Path f = write(dir, 10, 1 << 20).get(0);
        List<String> lines = lines(f);
        JsonNode orig = JSON.readTree(lines.get(5));
        AuditChain.Line forged = AuditChain.encode(orig.get("seq").asLong(), orig.get("prev").asText(),
                new AuditRecord(Instant.parse(orig.get("time").asText()), orig.get("id").asText(), "mallory",
                        "infer", "mlp", "1", "n1", "eu", List.of("eu"), "ok", 1, "http", null));
        lines.set(5, forged.text());
        rewrite(f, lines);
        assertProblem(verify(List.of(f)), f, 6, "altered or replaced");
    }

    @Test
    void aDeletedLineIsNamed(@TempDir Path dir) throws IOException {
        Path f = write(dir, 10, 1 << 20).get(0);
        List<String> lines = lines(f);
        lines.remove(6);
        rewrite(f, lines);
        AuditVerifier.Result r = verify(List.of(f));
        assertProblem(r, f, 7, "1 record is missing");
        assertTrue(r.problem().message().contains("expected seq 7, found 8"), r.problem().toString());
    }

    @Test
    void anInsertedLineIsNamed(@TempDir Path dir) throws IOException {
        Path f = write(dir, 10, 1 << 20).get(0);
        List<String> lines = lines(f);
        lines.add(3, lines.get(8).replace("\"principal\":\"alice\"", "\"principal\":\"bob\""));
        rewrite(f, lines);
        assertProblem(verify(List.of(f)), f, 4, "inserted");
    }

    @Test
    void anInsertedCopyOfARecordIsNamed(@TempDir Path dir) throws IOException {
        Path f = write(dir, 10, 1 << 20).get(0);
        List<String> lines = lines(f);
        lines.add(7, lines.get(2));
        rewrite(f, lines);
        assertProblem(verify(List.of(f)), f, 8, "inserted");
    }

    @Test
    void aPerfectlyForgedInsertedRecordIsNamed(@TempDir Path dir) throws IOException {
        Path f = write(dir, 10, 1 << 20).get(0);
        List<String> lines = lines(f);
        JsonNode before = JSON.readTree(lines.get(3));
        AuditChain.Line forged = AuditChain.encode(before.get("seq").asLong() + 1, before.get("hash").asText(),
                record(99));
        lines.add(4, forged.text());
        rewrite(f, lines);
        assertProblem(verify(List.of(f)), f, 5, "inserted");
    }

    @Test
    void swappedLinesAreNamed(@TempDir Path dir) throws IOException {
        Path f = write(dir, 10, 1 << 20).get(0);
        List<String> lines = lines(f);
        Collections.swap(lines, 4, 5);
        rewrite(f, lines);
        AuditVerifier.Result r = verify(List.of(f));
        assertProblem(r, f, 5, "out of order");
        assertTrue(r.problem().message().contains("swapped"), r.problem().toString());
    }

    @Test
    void aTruncatedLastLineIsNamed(@TempDir Path dir) throws IOException {
        Path f = write(dir, 10, 1 << 20).get(0);
        byte[] bytes = Files.readAllBytes(f);
        Files.write(f, java.util.Arrays.copyOf(bytes, bytes.length - 30));
        assertProblem(verify(List.of(f)), f, 11, "an incomplete record");

        Files.write(f, java.util.Arrays.copyOf(bytes, bytes.length - 1)); // only the final line end gone
        assertProblem(verify(List.of(f)), f, 11, "truncated");

        Files.write(f, new byte[0]);
        assertProblem(verify(List.of(f)), f, 1, "the file is empty");
    }

    @Test
    void rotatedFilesVerifyAsOneChain(@TempDir Path dir) throws IOException {
        List<Path> files = write(dir, 60, 2048);
        assertTrue(files.size() >= 3, "rotation by size: " + files);
        AuditVerifier.Result r = verify(files);
        assertTrue(r.intact(), String.valueOf(r.problem()));
        assertEquals(60 + files.size(), r.records()); // one header per file
        for (Path f : files) {
            assertTrue(Files.size(f) < 2048 + 1024, f + " is " + Files.size(f) + " bytes");
            assertEquals(AuditChain.OPEN_ACTION, JSON.readTree(lines(f).get(0)).get("action").asText());
        }

        // a later file alone: it starts at its header, chained to the file before (noted)
        AuditVerifier.Result tail = verify(files.subList(1, files.size()));
        assertTrue(tail.intact(), String.valueOf(tail.problem()));
        assertTrue(tail.notes().get(0).contains("starts at seq"), tail.notes().toString());

        // files out of order
        List<Path> swapped = new ArrayList<>(files);
        Collections.swap(swapped, 0, 1);
        assertProblem(verify(swapped), files.get(0), 1, "out of order");

        // a file left out of the sequence
        List<Path> gap = new ArrayList<>(files);
        gap.remove(1);
        assertProblem(verify(gap), files.get(2), 1, "");

        // the first line of a later file deleted
        Path second = files.get(1);
        List<String> lines = lines(second);
        lines.remove(0);
        rewrite(second, lines);
        assertProblem(verify(files), second, 1, "1 record is missing");
        AuditVerifier.Result alone = verify(List.of(second));
        assertProblem(alone, second, 1, "records are missing before this one");
    }

    @Test
    void aRestartContinuesTheChainInANewFile(@TempDir Path dir) throws IOException {
        write(dir, 5, 1 << 20);
        List<Path> files = write(dir, 5, 1 << 20);
        assertEquals(2, files.size());
        AuditVerifier.Result r = verify(files);
        assertTrue(r.intact(), String.valueOf(r.problem()));
        assertEquals(12, r.lastSeq());

        // after a crash mid-line the next start chains to the last complete record; verify names the cut
        Path last = files.get(1);
        byte[] bytes = Files.readAllBytes(last);
        Files.write(last, java.util.Arrays.copyOf(bytes, bytes.length - 10));
        List<Path> after = write(dir, 2, 1 << 20);
        assertEquals(3, after.size());
        assertProblem(verify(after), last, 6, "an incomplete record");
        AuditVerifier.Result newest = verify(after.subList(2, 3));
        assertTrue(newest.intact(), String.valueOf(newest.problem()));
    }

    @Test
    void aFullQueueRefusesOrDropsAsConfigured(@TempDir Path dir) throws IOException {
        AuditLog refuse = AuditLog.open(settings(dir.resolve("refuse"), 1 << 20, 2, AuditSettings.WhenFull.REFUSE),
                "n1", "eu");
        AuditLog.Ticket a = refuse.reserve();
        AuditLog.Ticket b = refuse.reserve();
        assertNotNull(a);
        assertNotNull(b);
        assertNull(refuse.reserve(), "a third request while two records wait is refused");
        assertTrue(refuse.refusal().contains("queue is full"), refuse.refusal());
        assertFalse(refuse.offer(record(1)), "refusals are not recorded when there is no room");
        b.cancel();
        AuditLog.Ticket c = refuse.reserve();
        assertNotNull(c, "a cancelled reservation frees its room");
        a.write(record(2));
        c.write(record(3));
        refuse.close();
        assertNull(refuse.reserve(), "closed");
        AuditVerifier.Result r = verify(AuditLog.files(dir.resolve("refuse")));
        assertTrue(r.intact());
        assertEquals(3, r.records());

        AuditLog drop = AuditLog.open(settings(dir.resolve("drop"), 1 << 20, 1, AuditSettings.WhenFull.DROP), "n1",
                "eu");
        AuditLog.Ticket held = drop.reserve();
        AuditLog.Ticket lossy = drop.reserve();
        assertNotNull(lossy, "drop: the request goes ahead");
        lossy.write(record(4));
        assertEquals(1, drop.dropped());
        held.write(record(5));
        drop.close();
        assertEquals(2, verify(AuditLog.files(dir.resolve("drop"))).records());
    }

    @Test
    void offLogAcceptsEverythingAndWritesNothing() {
        AuditLog off = AuditLog.off();
        assertFalse(off.enabled());
        AuditLog.Ticket t = off.reserve();
        assertNotNull(t);
        t.write(record(1));
        assertFalse(off.offer(record(2)));
        off.close();
    }

    @Test
    void recordsWithoutATraceKeepTheirFormatAndVerifyInOneChainWithTracedOnes(@TempDir Path dir) throws IOException {
        // a record about no traced request is written exactly as before trace fields existed
        AuditChain.Line legacy = AuditChain.encode(2, AuditChain.GENESIS, record(2));
        String body = "{\"seq\":2,\"time\":\"2025-01-01T00:00:02Z\",\"id\":\"req-2\",\"principal\":\"alice\","
                + "\"action\":\"infer\",\"model\":\"mlp\",\"version\":\"1\",\"node\":\"n1\",\"region\":\"eu\","
                + "\"residency\":[\"eu\"],\"outcome\":\"ok\",\"latency_ms\":3.500,\"via\":\"http\",\"detail\":null,"
                + "\"prev\":\"" + AuditChain.GENESIS + "\"}";
        assertEquals(body.substring(0, body.length() - 1) + ",\"hash\":\"" + AuditChain.sha256(body) + "\"}",
                legacy.text());

        write(dir, 3, 1 << 20); // an older file: no trace fields
        AuditLog log = AuditLog.open(settings(dir, 1 << 20, 16, AuditSettings.WhenFull.REFUSE), "n1", "eu");
        AuditRecord r = record(4);
        log.reserve().write(new AuditRecord(r.time(), r.id(), r.principal(), r.action(), r.model(), r.version(),
                r.node(), r.region(), r.residency(), r.outcome(), r.latencyMillis(), r.via(), r.detail(),
                "4bf92f3577b34da6a3ce929d0e0e4736", "b7ad6b7169203331", "00f067aa0ba902b7"));
        log.close();
        List<Path> files = AuditLog.files(dir);
        AuditVerifier.Result ok = verify(files);
        assertTrue(ok.intact(), String.valueOf(ok.problem()));
        List<String> newest = lines(files.get(1));
        JsonNode traced = JSON.readTree(newest.get(1));
        assertEquals("4bf92f3577b34da6a3ce929d0e0e4736", traced.path("trace_id").asText());
        assertEquals("b7ad6b7169203331", traced.path("span_id").asText());
        assertEquals("00f067aa0ba902b7", traced.path("parent_span_id").asText());
        assertFalse(JSON.readTree(lines(files.get(0)).get(1)).has("trace_id"));

        // the trace id is covered by the chain like every other field
        newest.set(1, newest.get(1).replace("4bf92f3577b34da6", "5bf92f3577b34da6"));
        rewrite(files.get(1), newest);
        assertProblem(verify(files), files.get(1), 2, "altered");
    }
}
