package io.meshinfer.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.net.StandardSocketOptions;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;

/**
 * A minimal HTTP/1.1 client for load generation, built like wrk: one thread runs a
 * selector over a bounded set of keep-alive connections, each carrying one request at a
 * time. Answers complete on that thread, so a closed-loop caller's next request is written
 * from there without waking any other thread. The JDK's client, or a thread blocked per
 * connection, costs the generator several times the CPU per request, which on a shared
 * machine is taken from the server being measured. Only what a benchmark needs: POST, a
 * body, the status and the body back ({@code Content-Length} responses; pekko-http sends
 * those for strict entities).
 */
final class EventLoopHttp implements AutoCloseable {
    private static final long TICK_MILLIS = 50;

    private final InetSocketAddress address;
    private final String requestLinePrefix;
    private final int maxConnections;
    private final long timeoutNanos;
    private final Selector selector;
    private final Thread loop;
    /** Requests from other threads, handed to the loop. */
    private final BlockingQueue<Exchange> submitted;
    /** Loop-thread state: requests waiting for a connection, idle connections, all connections. */
    private final ArrayDeque<Exchange> waiting = new ArrayDeque<>();
    private final ArrayDeque<Connection> idle = new ArrayDeque<>();
    private final List<Connection> open = new ArrayList<>();
    private final int maxWaiting;
    private volatile boolean closed;

    /** The status and body of one exchange. */
    record Response(int status, byte[] body) {
    }

    /**
     * @param maxConnections connections opened at most (requests beyond wait for one)
     * @param maxWaiting requests waiting for a connection at most; more are refused
     */
    EventLoopHttp(URI uri, int maxConnections, int maxWaiting, long timeoutMillis) throws IOException {
        this.address = new InetSocketAddress(uri.getHost(), uri.getPort() < 0 ? 80 : uri.getPort());
        this.requestLinePrefix = "POST " + uri.getRawPath() + " HTTP/1.1\r\nHost: " + uri.getHost() + ":"
                + address.getPort() + "\r\nContent-Type: ";
        this.maxConnections = maxConnections;
        this.maxWaiting = maxWaiting;
        this.timeoutNanos = timeoutMillis * 1_000_000L;
        this.submitted = new ArrayBlockingQueue<>(maxWaiting);
        this.selector = Selector.open();
        this.loop = new Thread(this::run, "bench-http-loop");
        loop.setDaemon(true);
        loop.start();
    }

    /**
     * Sends one POST; the future completes on the loop thread with the answer, a
     * {@link SocketTimeoutException} when the timeout passed since this call (waiting for a
     * connection included), another {@link IOException}, or a
     * {@link RejectedExecutionException} when too many requests already wait.
     */
    CompletableFuture<Response> post(byte[] body, String contentType, String extraHeader) {
        String head = requestLinePrefix + contentType + "\r\nContent-Length: " + body.length + "\r\n"
                + (extraHeader == null ? "" : extraHeader + "\r\n") + "\r\n";
        Exchange x = new Exchange(head.getBytes(StandardCharsets.US_ASCII), body, System.nanoTime() + timeoutNanos);
        if (closed) {
            x.result.completeExceptionally(new RejectedExecutionException("closed"));
        } else if (Thread.currentThread() == loop) {
            if (waiting.size() >= maxWaiting) {
                x.result.completeExceptionally(new RejectedExecutionException("too many requests waiting"));
            } else {
                waiting.add(x);
                dispatch();
            }
        } else if (!submitted.offer(x)) {
            x.result.completeExceptionally(new RejectedExecutionException("too many requests waiting"));
        } else {
            selector.wakeup();
        }
        return x.result;
    }

    @Override
    public void close() {
        closed = true;
        selector.wakeup();
        try {
            loop.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        try {
            while (!closed) {
                selector.select(TICK_MILLIS);
                for (Exchange x; (x = submitted.poll()) != null; ) {
                    if (waiting.size() >= maxWaiting) {
                        x.result.completeExceptionally(new RejectedExecutionException("too many requests waiting"));
                    } else {
                        waiting.add(x);
                    }
                }
                Iterator<SelectionKey> keys = selector.selectedKeys().iterator();
                while (keys.hasNext()) {
                    SelectionKey k = keys.next();
                    keys.remove();
                    ((Connection) k.attachment()).ready(k);
                }
                expire(System.nanoTime());
                dispatch();
            }
        } catch (IOException | ClosedSelectorException e) {
            // the selector itself failed: fail what is left below
        } finally {
            IOException gone = new IOException("client closed");
            for (Connection c : List.copyOf(open)) {
                c.fail(gone);
            }
            for (Exchange x; (x = waiting.poll()) != null || (x = submitted.poll()) != null; ) {
                x.result.completeExceptionally(gone);
            }
            try {
                selector.close();
            } catch (IOException e) {
                // closing on the way out: nothing left to do with it
            }
        }
    }

    /** Starts waiting requests on idle connections, opening new ones up to the limit. */
    private void dispatch() {
        while (!waiting.isEmpty()) {
            Connection c = idle.poll();
            if (c == null) {
                if (open.size() >= maxConnections) {
                    return;
                }
                try {
                    c = new Connection();
                } catch (IOException e) {
                    waiting.poll().result.completeExceptionally(e);
                    continue;
                }
            }
            c.start(waiting.poll());
        }
    }

    /** Fails requests past their deadline, counted from {@link #post}: in flight or still waiting for a connection. */
    private void expire(long now) {
        for (Connection c : List.copyOf(open)) {
            if (c.current != null && now - c.current.deadline > 0) {
                c.fail(timeout());
            }
        }
        for (Iterator<Exchange> it = waiting.iterator(); it.hasNext(); ) {
            Exchange x = it.next();
            if (now - x.deadline > 0) {
                it.remove();
                x.result.completeExceptionally(timeout());
            }
        }
    }

    private SocketTimeoutException timeout() {
        return new SocketTimeoutException("no answer within " + timeoutNanos / 1_000_000 + " ms");
    }

    private static final class Exchange {
        final ByteBuffer[] out;
        final long deadline;
        final CompletableFuture<Response> result = new CompletableFuture<>();

        Exchange(byte[] head, byte[] body, long deadline) {
            this.out = new ByteBuffer[] {ByteBuffer.wrap(head), ByteBuffer.wrap(body)};
            this.deadline = deadline;
        }
    }

    /** One keep-alive connection: writes its request, then parses one response. */
    private final class Connection {
        private final SocketChannel channel;
        private final SelectionKey key;
        private final ByteBuffer in = ByteBuffer.allocateDirect(64 * 1024);
        private Exchange current;
        private boolean connected;
        // response parsing: the head is read up to its blank line, then Content-Length bytes
        private final StringBuilder head = new StringBuilder(256);
        private int status = -1;
        private byte[] body;
        private int bodyRead;

        Connection() throws IOException {
            channel = SocketChannel.open();
            try {
                channel.configureBlocking(false);
                channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                connected = channel.connect(address);
                key = channel.register(selector, connected ? 0 : SelectionKey.OP_CONNECT, this);
            } catch (IOException | RuntimeException e) {
                channel.close(); // a refused connect must not leak its socket
                throw e;
            }
            open.add(this);
        }

        void start(Exchange x) {
            current = x;
            head.setLength(0);
            status = -1;
            body = null;
            bodyRead = 0;
            if (connected) {
                write();
            }
        }

        void ready(SelectionKey k) {
            try {
                if (!k.isValid()) {
                    return;
                }
                if (k.isConnectable() && channel.finishConnect()) {
                    connected = true;
                    key.interestOps(0);
                    if (current != null) {
                        write();
                    }
                    return;
                }
                if (k.isWritable()) {
                    write();
                }
                if (k.isValid() && k.isReadable()) {
                    read();
                }
            } catch (IOException e) {
                fail(e);
            }
        }

        private void write() {
            try {
                channel.write(current.out);
                boolean done = !current.out[1].hasRemaining();
                key.interestOps(done ? SelectionKey.OP_READ : SelectionKey.OP_WRITE);
            } catch (IOException e) {
                fail(e);
            }
        }

        private void read() throws IOException {
            int n = channel.read(in);
            if (n < 0) {
                throw new IOException(current == null ? "connection closed while idle" : "connection closed");
            }
            in.flip();
            while (in.hasRemaining() && current != null) {
                if (body == null) {
                    if (!readHead()) {
                        break;
                    }
                } else {
                    int take = Math.min(in.remaining(), body.length - bodyRead);
                    in.get(body, bodyRead, take);
                    bodyRead += take;
                }
                if (body != null && bodyRead == body.length) {
                    finish();
                }
            }
            in.compact();
        }

        /** Consumes head bytes; true once the blank line ended it (the body array is then allocated). */
        private boolean readHead() throws IOException {
            while (in.hasRemaining()) {
                char ch = (char) (in.get() & 0xff);
                head.append(ch);
                int len = head.length();
                if (ch == '\n' && len >= 4 && head.charAt(len - 2) == '\r' && head.charAt(len - 3) == '\n') {
                    parseHead();
                    return true;
                }
                if (len > 16 * 1024) {
                    throw new IOException("response head longer than 16 KiB");
                }
            }
            return false;
        }

        private void parseHead() throws IOException {
            String[] lines = head.toString().split("\r\n");
            if (!lines[0].startsWith("HTTP/1.1 ") || lines[0].length() < 12) {
                throw new IOException("not an HTTP/1.1 response: " + lines[0]);
            }
            status = Integer.parseInt(lines[0].substring(9, 12));
            int length = -1;
            for (int i = 1; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                if (colon > 0 && lines[i].substring(0, colon).equalsIgnoreCase("Content-Length")) {
                    length = Integer.parseInt(lines[i].substring(colon + 1).trim());
                }
            }
            if (length < 0) {
                throw new IOException("response without Content-Length");
            }
            body = new byte[length];
        }

        private void finish() {
            Exchange x = current;
            Response r = new Response(status, body);
            current = null;
            key.interestOps(0);
            idle.add(this);
            x.result.complete(r); // the caller's next request may start on this connection at once
        }

        void fail(IOException e) {
            Exchange x = current;
            current = null;
            open.remove(this);
            idle.remove(this);
            key.cancel();
            try {
                channel.close();
            } catch (IOException e2) {
                // discarding a broken connection: nothing left to do with it
            }
            if (x != null) {
                x.result.completeExceptionally(e);
            }
        }
    }
}
