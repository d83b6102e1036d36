package io.meshinfer.security;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's audit log: JSON lines in {@code audit-NNNNNN.jsonl} files under one
 * directory, hash-chained across files ({@link AuditChain}), a new file when the current
 * one reaches the size limit and at every start (chained to the last record found).
 *
 * <p>Records are written by one thread of its own, from a bounded queue, so no caller
 * ever blocks on the disk. Room in the queue is {@linkplain #reserve() reserved} when a
 * request is admitted, before anything runs, so an admitted request's record always fits;
 * when the queue is full the policy decides: {@code refuse} turns the request away (the
 * caller answers 503), {@code drop} lets it run and counts its record as dropped. The same
 * happens, for good, once writing fails (disk full, directory gone): a deployment that
 * requires an audit trail stops serving instead of serving unaudited. Refusals that run
 * nothing (bad tokens) are {@linkplain #offer offered}: written while the queue is less
 * than half full, dropped otherwise.
 *
 * <p>Each batch is flushed to the operating system (and forced to disk with
 * {@code fsync = on}); what a crash loses is the queue and at most a partial last line,
 * which {@link AuditVerifier} reports as truncated.
 */
public final class AuditLog implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AuditLog.class);
    private static final Pattern FILE_NAME = Pattern.compile("audit-(\\d{6,})\\.jsonl");
    private static final int BATCH = 512;
    private static final long MAX_TAIL_SCAN = 16L * 1024 * 1024;

    private static final AuditLog OFF = new AuditLog();

    private final AuditSettings settings;
    private final Path dir;
    private final String node;
    private final String region;
    private final ArrayBlockingQueue<AuditRecord> queue;
    private final AuditRecord stop;
    private final AtomicInteger pending = new AtomicInteger();
    private final LongAdder dropped = new LongAdder();
    private final LongAdder written = new LongAdder();
    private final Thread writer;
    private final Ticket noop = new Ticket(false);
    private volatile String failure;
    private volatile boolean closed;

    // owned by the writer thread (and by open() before it starts)
    private long seq;
    private String prev = AuditChain.GENESIS;
    private int fileIndex;
    private Path file;
    private FileChannel channel;
    private OutputStream out;
    private long fileBytes;

    private AuditLog() {
        this.settings = null;
        this.dir = null;
        this.node = null;
        this.region = null;
        this.queue = null;
        this.stop = null;
        this.writer = null;
    }

    private AuditLog(AuditSettings settings, Path dir, String node, String region) {
        this.settings = settings;
        this.dir = dir;
        this.node = node;
        this.region = region;
        this.queue = new ArrayBlockingQueue<>(settings.queueCapacity() + 1); // + the stop marker
        this.stop = new AuditRecord(Instant.EPOCH, null, null, "stop", null, null, null, null, null, "ok", 0, null,
                null);
        this.writer = new Thread(this::run, "meshinfer-audit-writer");
        this.writer.setDaemon(true);
    }

    /** A log that records nothing and refuses nothing (auditing off). */
    public static AuditLog off() {
        return OFF;
    }

    /** The log the settings ask for: {@link #off()} without a directory. */
    public static AuditLog fromSettings(AuditSettings settings, String node, String region) throws IOException {
        return settings.dir().isEmpty() ? off() : open(settings, node, region);
    }

    /**
     * Opens the log in {@code settings.dir()}, creating it if needed: finds the last record of
     * the files already there and starts a new file chained to it (or to the genesis value).
     *
     * @throws IOException if the directory cannot be created or written
     */
    public static AuditLog open(AuditSettings settings, String node, String region) throws IOException {
        Path dir = settings.dir().orElseThrow(() -> new IllegalArgumentException("no audit directory"));
        Files.createDirectories(dir);
        AuditLog a = new AuditLog(settings, dir, node, region);
        a.resume();
        a.openFile("start");
        a.out.flush();
        a.writer.start();
        log.info("audit log in {} (writing {} from seq {})", dir, a.file.getFileName(), a.seq - 1);
        return a;
    }

    public boolean enabled() {
        return settings != null;
    }

    /** Where the files are (empty when off). */
    public Optional<Path> directory() {
        return Optional.ofNullable(dir);
    }

    /** Records dropped: queue full under {@code drop}, a failed writer, or written after close. */
    public long dropped() {
        return dropped.sum();
    }

    /** Records written since this log opened (file headers included). */
    public long written() {
        return written.sum();
    }

    /**
     * Room for the record of one admitted request, or null when the request must be
     * refused (the queue is full under {@code refuse}, the writer failed, or the log is
     * closed): then {@link #refusal()} says why. Every ticket must be
     * {@linkplain Ticket#write written} or {@linkplain Ticket#cancel cancelled}.
     */
    public Ticket reserve() {
        if (settings == null) {
            return noop;
        }
        if (!closed && failure == null && take(settings.queueCapacity())) {
            return new Ticket(true);
        }
        return settings.whenFull() == AuditSettings.WhenFull.DROP ? new Ticket(false) : null;
    }

    /** Why {@link #reserve()} refused. */
    public String refusal() {
        if (closed) {
            return "the audit log is closed: the node is stopping";
        }
        String f = failure;
        if (f != null) {
            return "the audit log cannot be written (" + f + "); the node serves nothing unaudited";
        }
        return "the audit log's queue is full (" + settings.queueCapacity() + " records waiting); try again";
    }

    /**
     * Appends a record if the queue is less than half full; otherwise counts it dropped. For
     * refusals that ran nothing: a flood of bad tokens cannot take the room admitted
     * requests need.
     */
    public boolean offer(AuditRecord r) {
        if (settings == null) {
            return false;
        }
        if (!closed && failure == null && take(Math.max(1, settings.queueCapacity() / 2))) {
            enqueue(r);
            return true;
        }
        drop(r);
        return false;
    }

    /** Takes room for one record if fewer than {@code limit} are pending. */
    private boolean take(int limit) {
        int n;
        do {
            n = pending.get();
            if (n >= limit) {
                return false;
            }
        } while (!pending.compareAndSet(n, n + 1));
        return true;
    }

    private void enqueue(AuditRecord r) {
        if (!queue.offer(r)) { // cannot happen: room was reserved
            pending.decrementAndGet();
            drop(r);
        }
    }

    private void drop(AuditRecord r) {
        dropped.increment();
        long n = dropped.sum();
        if (n == 1 || n % 1000 == 0) {
            log.warn("audit record dropped ({} so far): {} {} of {} by {}", n, r.action(), r.outcome(), r.model(),
                    r.principal());
        }
    }

    /** Room reserved for one record. */
    public final class Ticket {
        private final boolean reserved;
        private final AtomicBoolean used = new AtomicBoolean();

        private Ticket(boolean reserved) {
            this.reserved = reserved;
        }

        /** Queues the record (once; later calls are ignored). */
        public void write(AuditRecord r) {
            if (settings == null || !used.compareAndSet(false, true)) {
                return;
            }
            if (reserved || (!closed && failure == null && take(settings.queueCapacity()))) {
                enqueue(r);
            } else {
                drop(r);
            }
        }

        /** Gives the room back unused. */
        public void cancel() {
            if (settings != null && used.compareAndSet(false, true) && reserved) {
                pending.decrementAndGet();
            }
        }
    }

    // ---- the writer thread ----

    private void run() {
        List<AuditRecord> batch = new ArrayList<>(BATCH);
        boolean stopping = false;
        while (!stopping) {
            try {
                batch.add(queue.take());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            queue.drainTo(batch, BATCH - 1);
            int records = 0;
            for (AuditRecord r : batch) {
                if (r == stop) {
                    stopping = true;
                    continue;
                }
                records++;
                if (failure != null) {
                    drop(r);
                    continue;
                }
                try {
                    write(r);
                } catch (IOException | RuntimeException e) {
                    fail(e);
                    drop(r);
                }
            }
            if (failure == null) {
                try {
                    out.flush();
                    if (settings.fsync()) {
                        channel.force(false);
                    }
                } catch (IOException e) {
                    fail(e);
                }
            }
            pending.addAndGet(-records);
            batch.clear();
        }
        closeFile();
    }

    private void fail(Exception e) {
        if (failure == null) {
            failure = e.getClass().getSimpleName() + ": " + e.getMessage();
            log.error("the audit log in {} cannot be written; requests are {} from now on: {}", dir,
                    settings.whenFull() == AuditSettings.WhenFull.REFUSE ? "refused" : "served unaudited", failure);
        }
    }

    private void write(AuditRecord r) throws IOException {
        AuditChain.Line line = AuditChain.encode(seq, prev, r);
        byte[] bytes = (line.text() + "\n").getBytes(StandardCharsets.UTF_8);
        out.write(bytes);
        seq++;
        prev = line.hash();
        fileBytes += bytes.length;
        written.increment();
        if (fileBytes >= settings.maxFileBytes() && !AuditChain.OPEN_ACTION.equals(r.action())) {
            rotate();
        }
    }

    private void rotate() throws IOException {
        out.flush();
        if (settings.fsync()) {
            channel.force(false);
        }
        out.close();
        fileIndex++;
        openFile("rotation");
    }

    private void openFile(String reason) throws IOException {
        String previous = file == null ? null : file.getFileName().toString();
        file = dir.resolve(name(fileIndex));
        channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        out = new BufferedOutputStream(Channels.newOutputStream(channel), 64 * 1024);
        fileBytes = 0;
        write(new AuditRecord(Instant.now(), null, null, AuditChain.OPEN_ACTION, null, null, node, region, null, "ok",
                0, null, file.getFileName() + " opened (" + reason + ")"
                + (previous != null ? ", after " + previous : "")));
    }

    private void closeFile() {
        try {
            if (out != null) {
                out.flush();
                if (settings.fsync()) {
                    channel.force(false);
                }
                out.close();
            }
        } catch (IOException e) {
            fail(e);
        }
    }

    static String name(int index) {
        return String.format("audit-%06d.jsonl", index);
    }

    /** The files of an audit directory in chain order. */
    public static List<Path> files(Path dir) throws IOException {
        TreeMap<Integer, Path> byIndex = new TreeMap<>();
        try (var listing = Files.list(dir)) {
            listing.forEach(p -> {
                Matcher m = FILE_NAME.matcher(p.getFileName().toString());
                if (m.matches()) {
                    byIndex.put(Integer.parseInt(m.group(1)), p);
                }
            });
        }
        return new ArrayList<>(byIndex.values());
    }

    /** Finds where the chain left off: the last well-formed record of the newest file that has one. */
    private void resume() throws IOException {
        List<Path> existing = files(dir);
        seq = 1;
        fileIndex = 1;
        if (existing.isEmpty()) {
            return;
        }
        Matcher m = FILE_NAME.matcher(existing.get(existing.size() - 1).getFileName().toString());
        fileIndex = m.matches() ? Integer.parseInt(m.group(1)) + 1 : existing.size() + 1;
        for (int i = existing.size() - 1; i >= 0; i--) {
            Optional<AuditChain.Parsed> last = lastRecord(existing.get(i));
            if (last.isPresent()) {
                seq = last.get().seq() + 1;
                prev = last.get().hash();
                return;
            }
        }
    }

    private static Optional<AuditChain.Parsed> lastRecord(Path p) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size == 0) {
                return Optional.empty();
            }
            for (long chunk = 64 * 1024; ; chunk *= 2) {
                long start = Math.max(0, size - Math.min(chunk, MAX_TAIL_SCAN));
                ByteBuffer buf = ByteBuffer.allocate((int) (size - start));
                while (buf.hasRemaining() && ch.read(buf, start + buf.position()) > 0) {
                    // read until full
                }
                String text = new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8);
                String[] lines = text.split("\n", -1);
                int first = start > 0 ? 1 : 0; // a piece cut at the chunk's start is not a whole line
                int last = lines.length - 2; // the piece after the final '\n' is empty, or an unfinished line
                if (chunk == 64 * 1024 && !lines[lines.length - 1].isEmpty()) {
                    log.warn("audit file {} ends with an incomplete record (a crash while writing?); the chain"
                            + " continues from the last complete one, and meshinfer audit verify reports it", p);
                }
                for (int i = last; i >= first; i--) {
                    AuditChain.Parsed parsed = AuditChain.parse(lines[i]);
                    if (parsed.wellFormed()) {
                        return Optional.of(parsed);
                    }
                }
                if (start == 0 || chunk >= MAX_TAIL_SCAN) {
                    return Optional.empty();
                }
            }
        }
    }

    /**
     * Stops taking records, writes those queued, closes the file. Records offered later are
     * dropped (and counted).
     */
    @Override
    public void close() {
        if (settings == null || closed) {
            return;
        }
        closed = true;
        if (!queue.offer(stop)) {
            writer.interrupt();
        }
        try {
            writer.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (AuditRecord r; (r = queue.poll()) != null; ) {
            drop(r);
        }
        log.info("audit log closed: {} records written, {} dropped; last record seq {}, hash {}", written(), dropped(),
                seq - 1, prev);
    }
}
