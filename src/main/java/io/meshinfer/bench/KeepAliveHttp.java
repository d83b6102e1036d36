package io.meshinfer.bench;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * A minimal HTTP/1.1 client for load generation: a bounded pool of keep-alive
 * connections, blocking writes and reads of one request at a time per connection, and
 * nothing else. The JDK's client costs the generator about a millisecond of CPU per
 * request on this machine, which would be measured as the server's; this costs a few
 * microseconds. Only what a benchmark needs: POST, a body, the status and the body back
 * ({@code Content-Length} responses; pekko-http sends those for strict entities).
 */
final class KeepAliveHttp implements AutoCloseable {
    private final String host;
    private final int port;
    private final String path;
    private final BlockingQueue<Connection> idle;
    private final int readTimeoutMillis;

    /** The status and body of one exchange. */
    record Response(int status, byte[] body) {
    }

    KeepAliveHttp(URI uri, int maxConnections, int readTimeoutMillis) {
        this.host = uri.getHost();
        this.port = uri.getPort() < 0 ? 80 : uri.getPort();
        this.path = uri.getRawPath();
        this.idle = new ArrayBlockingQueue<>(maxConnections);
        this.readTimeoutMillis = readTimeoutMillis;
    }

    /** Sends one POST on an idle connection (opening one if none is idle) and reads the answer. */
    Response post(byte[] body, String contentType, String extraHeader) throws IOException {
        Connection c = idle.poll();
        if (c == null) {
            c = new Connection();
        }
        try {
            Response r = c.exchange(body, contentType, extraHeader);
            if (!idle.offer(c)) {
                c.close();
            }
            return r;
        } catch (IOException e) {
            c.close();
            throw e;
        }
    }

    @Override
    public void close() {
        Connection c;
        while ((c = idle.poll()) != null) {
            c.close();
        }
    }

    private final class Connection {
        private final Socket socket = new Socket();
        private final OutputStream out;
        private final InputStream in;

        Connection() throws IOException {
            socket.setTcpNoDelay(true);
            socket.connect(new InetSocketAddress(host, port), 5000);
            socket.setSoTimeout(readTimeoutMillis);
            // the head and a small body leave in one write (one segment with TCP_NODELAY, one
            // syscall); a body larger than the buffer is written straight through after the head
            out = new BufferedOutputStream(socket.getOutputStream(), 16 * 1024);
            in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
        }

        Response exchange(byte[] body, String contentType, String extraHeader) throws IOException {
            String head = "POST " + path + " HTTP/1.1\r\nHost: " + host + ":" + port + "\r\nContent-Type: "
                    + contentType + "\r\nContent-Length: " + body.length + "\r\n"
                    + (extraHeader == null ? "" : extraHeader + "\r\n") + "\r\n";
            out.write(head.getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            String status = line();
            if (!status.startsWith("HTTP/1.1 ") || status.length() < 12) {
                throw new IOException("not an HTTP/1.1 response: " + status);
            }
            int code = Integer.parseInt(status.substring(9, 12));
            int length = -1;
            for (String h = line(); !h.isEmpty(); h = line()) {
                int colon = h.indexOf(':');
                if (colon > 0 && h.substring(0, colon).equalsIgnoreCase("Content-Length")) {
                    length = Integer.parseInt(h.substring(colon + 1).trim());
                }
            }
            if (length < 0) {
                throw new IOException("response without Content-Length");
            }
            byte[] data = in.readNBytes(length);
            if (data.length != length) {
                throw new IOException("connection closed after " + data.length + " of " + length + " bytes");
            }
            return new Response(code, data);
        }

        private String line() throws IOException {
            StringBuilder sb = new StringBuilder(64);
            for (int b = in.read(); b != '\n'; b = in.read()) {
                if (b < 0) {
                    throw new IOException("connection closed");
                }
                if (b != '\r') {
                    sb.append((char) b);
                }
            }
            return sb.toString();
        }

        void close() {
            try {
                socket.close();
            } catch (IOException e) {
                // closing a connection we are discarding: nothing left to do with it
                return;
            }
        }
    }
}
