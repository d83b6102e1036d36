package io.meshinfer.security;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks audit files, in the order given, as one chain ({@link AuditChain}) and names the
 * first record that is not what was written: altered (its content no longer matches its
 * hash), inserted (the line after it chains to the line before it), deleted (the sequence
 * skips), reordered (lines in the wrong order), truncated (an unfinished last line, or no
 * line end) or a file that does not start with its {@code audit.open} record.
 *
 * <p>The first file may start later in the chain (older files archived): its first record
 * must then be an {@code audit.open} record, and the verifier says which hash it chains to
 * so it can be matched against the older file. What a chain cannot show by itself: whole
 * records removed from the end of the newest file, or a chain rewritten from some record on
 * by someone who recomputes every hash after it. Compare the last hash reported with one
 * kept elsewhere (the node logs it when the log closes) to catch both.
 */
public final class AuditVerifier {
    private static final int MAX_LINE_BYTES = 1024 * 1024;

    private AuditVerifier() {
    }

    /** Where the chain first breaks. */
    public record Problem(Path file, long line, String message) {
        @Override
        public String toString() {
            return file.getFileName() + " line " + line + ": " + message;
        }
    }

    /**
     * The verdict: intact or the first problem, how many records were checked, the first
     * and last seq, the last record's hash, and notes (e.g. where a partial chain starts).
     */
    public record Result(Problem problem, long records, long firstSeq, long lastSeq, String lastHash,
                         List<String> notes) {
        public boolean intact() {
            return problem == null;
        }
    }

    private record Entry(Path file, long line, String text, boolean terminated, boolean firstInFile,
                         boolean tooLong) {
    }

    /** @throws IOException if a file cannot be read (which says nothing about tampering) */
    public static Result verify(List<Path> files) throws IOException {
        return new Run(files).check();
    }

    private static final class Run {
        private final List<Path> files;
        private final List<String> notes = new ArrayList<>();
        private int fileIndex = -1;
        private InputStream in;
        private long lineNo;
        private Path current;

        private String lastHash;
        private String beforeLastHash;
        private long lastSeq = -1;
        private long firstSeq = -1;
        private Entry lastEntry;
        private long records;

        Run(List<Path> files) {
            this.files = files;
        }

        Result check() throws IOException {
            try {
                Entry cur = next();
                while (cur != null) {
                    Entry nxt = next();
                    Problem p = judge(cur, nxt);
                    if (p != null) {
                        return new Result(p, records, firstSeq, lastSeq, lastHash, notes);
                    }
                    cur = nxt;
                }
                return new Result(null, records, firstSeq, lastSeq, lastHash, notes);
            } finally {
                if (in != null) {
                    in.close();
                }
            }
        }

        /** The problem with {@code cur} (or the record before it), or null when it extends the chain. */
        private Problem judge(Entry cur, Entry nxt) {
            if (cur.tooLong()) {
                return at(cur, "longer than " + MAX_LINE_BYTES + " bytes: not an audit record");
            }
            if (cur.text() == null) {
                return at(cur, "the file is empty: its records were deleted or truncated");
            }
            AuditChain.Parsed p = AuditChain.parse(cur.text());
            AuditChain.Parsed np = nxt == null || nxt.text() == null || nxt.tooLong() ? null
                    : AuditChain.parse(nxt.text());
            boolean lastOfFile = nxt == null || !nxt.file().equals(cur.file());
            if (!p.wellFormed()) {
                if (lastOfFile && !cur.terminated()) {
                    return at(cur, "an incomplete record at the end of the file (truncated)");
                }
                if (followsPrevious(np)) {
                    return at(cur, "inserted: not a record of the chain (" + p.problem() + "), and the next line"
                            + " chains to the one before it");
                }
                return at(cur, "altered: not a valid audit record any more (" + p.problem() + ")");
            }
            if (!p.hashMatches()) {
                if (followsPrevious(np)) {
                    return at(cur, "inserted: its content does not match its hash, and the next line chains to"
                            + " the one before it");
                }
                return at(cur, "altered: its content does not match its hash (seq " + p.seq() + ")");
            }
            if (!cur.terminated()) {
                return at(cur, "truncated: the file ends without this record's line end");
            }
            boolean open = AuditChain.OPEN_ACTION.equals(p.action());
            if (lastHash == null) {
                if (p.seq() == 1) {
                    if (!p.prev().equals(AuditChain.GENESIS)) {
                        return at(cur, "the first record (seq 1) does not chain to the genesis value");
                    }
                } else if (!open || !cur.firstInFile()) {
                    return at(cur, "records are missing before this one (seq " + p.seq() + "): it does not open a"
                            + " file, so the records before it were deleted");
                } else {
                    notes.add(cur.file().getFileName() + " starts at seq " + p.seq() + ", chained to " + p.prev()
                            + " (the last record of an earlier file, not checked here)");
                }
            } else if (p.seq() == lastSeq + 1 && p.prev().equals(lastHash)) {
                // extends the chain
            } else if (p.seq() == lastSeq + 1) {
                return at(lastEntry, "altered or replaced: the next record (" + where(cur)
                        + ") chained to a different record here");
            } else if (p.seq() <= lastSeq) {
                if (p.seq() == lastSeq && p.prev().equals(beforeLastHash)) {
                    return at(lastEntry, "inserted: the next record (" + where(cur) + ") chains to the one before"
                            + " this line");
                }
                if (followsPrevious(np)) {
                    return at(cur, "inserted: a copy of record seq " + p.seq() + ", and the next line chains to the"
                            + " one before it");
                }
                return at(cur, "out of order: seq " + p.seq() + " after seq " + lastSeq
                        + " (records inserted, duplicated or reordered, or files given out of order)");
            } else {
                if (np != null && np.wellFormed() && np.seq() == lastSeq + 1 && np.prev().equals(lastHash)) {
                    return at(cur, "out of order: swapped with the next line (seq " + p.seq() + " before seq "
                            + np.seq() + ")");
                }
                long missing = p.seq() - lastSeq - 1;
                return at(cur, missing + (missing == 1 ? " record is" : " records are") + " missing before this"
                        + " line (deleted): expected seq " + (lastSeq + 1) + ", found " + p.seq());
            }
            if (cur.firstInFile() && !open) {
                return at(cur, "the file does not start with its " + AuditChain.OPEN_ACTION + " record (deleted?)");
            }
            if (firstSeq < 0) {
                firstSeq = p.seq();
            }
            beforeLastHash = lastHash;
            lastHash = p.hash();
            lastSeq = p.seq();
            lastEntry = cur;
            records++;
            return null;
        }

        /** Whether the line after the current one continues the chain from the record before the current one. */
        private boolean followsPrevious(AuditChain.Parsed np) {
            if (np == null || !np.wellFormed() || !np.hashMatches()) {
                return false;
            }
            if (lastHash == null) {
                return np.seq() == 1 && np.prev().equals(AuditChain.GENESIS);
            }
            return np.seq() == lastSeq + 1 && np.prev().equals(lastHash);
        }

        private static Problem at(Entry e, String message) {
            return new Problem(e.file(), e.line(), message);
        }

        private static String where(Entry e) {
            return e.file().getFileName() + " line " + e.line();
        }

        /** The next line of the files, or null at the end; an empty file yields one entry without text. */
        private Entry next() throws IOException {
            while (true) {
                if (in == null) {
                    if (++fileIndex >= files.size()) {
                        return null;
                    }
                    current = files.get(fileIndex);
                    in = new BufferedInputStream(Files.newInputStream(current), 64 * 1024);
                    lineNo = 0;
                    if (Files.size(current) == 0) {
                        in.close();
                        in = null;
                        return new Entry(current, 1, null, false, true, false);
                    }
                }
                ByteArrayOutputStream line = new ByteArrayOutputStream(512);
                boolean tooLong = false;
                int b;
                while ((b = in.read()) >= 0 && b != '\n') {
                    if (line.size() < MAX_LINE_BYTES) {
                        line.write(b);
                    } else {
                        tooLong = true;
                    }
                }
                if (b < 0 && line.size() == 0 && !tooLong) {
                    in.close();
                    in = null;
                    continue;
                }
                lineNo++;
                return new Entry(current, lineNo, line.toString(StandardCharsets.UTF_8), b == '\n', lineNo == 1,
                        tooLong);
            }
        }
    }
}
