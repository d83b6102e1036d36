package io.meshinfer.multijvm;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * One HTTP/1.1 POST on its own TCP connection ({@code Connection: close}), for the load
 * driver. A fresh connection per request makes failures unambiguous: {@link NotConnected}
 * means the request never reached a server (safe to send to another gateway), any other
 * {@link IOException} means it was sent and its answer was lost. No pooling, no hidden
 * retries, and every read is bounded by the caller's deadline.
 */
final class RawHttp {
    /** Status line code and body of one exchange. */
    record Response(int status, String body) {
    }

    /** The TCP connection was never established (refused or connect timeout). */
    static final class NotConnected extends IOException {
        NotConnected(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The deadline passed before the whole answer arrived. */
    static final class DeadlineExceeded extends IOException {
        DeadlineExceeded(String message) {
            super(message);
        }
    }

    private static final int MAX_BODY = 16 * 1024 * 1024;

    private RawHttp() {
    }

    /**
     * Sends {@code body} as {@code application/json} to {@code host:port} and reads the answer.
     *
     * @param deadlineNanos {@link System#nanoTime()} after which the exchange is abandoned
     * @throws NotConnected when no connection could be made
     * @throws DeadlineExceeded when the deadline passed
     * @throws IOException when the connection broke after the request was (partly) sent
     */
    static Response post(String host, int port, String path, byte[] body, int connectTimeoutMillis,
                         long deadlineNanos) throws IOException {
        return exchange("POST", host, port, path, body, connectTimeoutMillis, deadlineNanos);
    }

    /** A GET, with the same guarantees as {@link #post}. */
    static Response get(String host, int port, String path, int connectTimeoutMillis, long deadlineNanos)
            throws IOException {
        return exchange("GET", host, port, path, new byte[0], connectTimeoutMillis, deadlineNanos);
    }

    private static Response exchange(String method, String host, int port, String path, byte[] body,
                                     int connectTimeoutMillis, long deadlineNanos) throws IOException {
        try (Socket socket = new Socket()) {
            socket.setTcpNoDelay(true);
            try {
                socket.connect(new InetSocketAddress(host, port), connectTimeoutMillis);
            } catch (ConnectException | SocketTimeoutException e) {
                throw new NotConnected(host + ":" + port + ": " + e.getMessage(), e);
            }
            OutputStream out = socket.getOutputStream();
            String head = method + " " + path + " HTTP/1.1\r\n"
                    + "Host: " + host + ":" + port + "\r\n"
                    + "Content-Type: application/json\r\n"
                    + "Accept: application/json\r\n"
                    + "Content-Length: " + body.length + "\r\n"
                    + "Connection: close\r\n\r\n";
            out.write(head.getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            InputStream in = new BufferedInputStream(socket.getInputStream());
            String statusLine = readLine(in, socket, deadlineNanos);
            String[] parts = statusLine.split(" ", 3);
            if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
                throw new IOException("malformed status line: " + statusLine);
            }
            int status = Integer.parseInt(parts[1]);
            long contentLength = -1;
            boolean chunked = false;
            for (String line = readLine(in, socket, deadlineNanos); !line.isEmpty();
                 line = readLine(in, socket, deadlineNanos)) {
                int colon = line.indexOf(':');
                if (colon <= 0) {
                    continue;
                }
                String name = line.substring(0, colon).trim().toLowerCase(Locale.ROOT);
                String value = line.substring(colon + 1).trim();
                if (name.equals("content-length")) {
                    contentLength = Long.parseLong(value);
                } else if (name.equals("transfer-encoding") && value.toLowerCase(Locale.ROOT).contains("chunked")) {
                    chunked = true;
                }
            }
            byte[] payload;
            if (chunked) {
                payload = readChunked(in, socket, deadlineNanos);
            } else if (contentLength >= 0) {
                payload = readExactly(in, socket, deadlineNanos, contentLength);
            } else {
                payload = readToEnd(in, socket, deadlineNanos);
            }
            return new Response(status, new String(payload, StandardCharsets.UTF_8));
        }
    }

    private static void arm(Socket socket, long deadlineNanos) throws IOException {
        long remainingMillis = (deadlineNanos - System.nanoTime()) / 1_000_000;
        if (remainingMillis <= 0) {
            throw new DeadlineExceeded("no complete answer before the deadline");
        }
        socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, remainingMillis));
    }

    private static int read(InputStream in, Socket socket, long deadlineNanos) throws IOException {
        arm(socket, deadlineNanos);
        try {
            return in.read();
        } catch (SocketTimeoutException e) {
            throw new DeadlineExceeded("no complete answer before the deadline");
        }
    }

    private static String readLine(InputStream in, Socket socket, long deadlineNanos) throws IOException {
        StringBuilder line = new StringBuilder();
        while (true) {
            int b = read(in, socket, deadlineNanos);
            if (b < 0) {
                throw new EOFException(line.length() == 0
                        ? "connection closed before an answer" : "connection closed inside the header");
            }
            if (b == '\n') {
                int len = line.length();
                if (len > 0 && line.charAt(len - 1) == '\r') {
                    line.setLength(len - 1);
                }
                return line.toString();
            }
            if (line.length() > 16 * 1024) {
                throw new IOException("header line too long");
            }
            line.append((char) b);
        }
    }

    private static byte[] readExactly(InputStream in, Socket socket, long deadlineNanos, long length)
            throws IOException {
        if (length > MAX_BODY) {
            throw new IOException("body of " + length + " bytes is too large");
        }
        byte[] data = new byte[(int) length];
        int off = 0;
        while (off < data.length) {
            arm(socket, deadlineNanos);
            int n;
            try {
                n = in.read(data, off, data.length - off);
            } catch (SocketTimeoutException e) {
                throw new DeadlineExceeded("no complete answer before the deadline");
            }
            if (n < 0) {
                throw new EOFException("connection closed after " + off + " of " + length + " body bytes");
            }
            off += n;
        }
        return data;
    }

    private static byte[] readToEnd(InputStream in, Socket socket, long deadlineNanos) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        while (true) {
            arm(socket, deadlineNanos);
            int n;
            try {
                n = in.read(buf);
            } catch (SocketTimeoutException e) {
                throw new DeadlineExceeded("no complete answer before the deadline");
            }
            if (n < 0) {
                return out.toByteArray();
            }
            if (out.size() + n > MAX_BODY) {
                throw new IOException("body too large");
            }
            out.write(buf, 0, n);
        }
    }

    private static byte[] readChunked(InputStream in, Socket socket, long deadlineNanos) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while (true) {
            String sizeLine = readLine(in, socket, deadlineNanos);
            int semi = sizeLine.indexOf(';');
            int size = Integer.parseInt((semi >= 0 ? sizeLine.substring(0, semi) : sizeLine).trim(), 16);
            if (size == 0) {
                while (!readLine(in, socket, deadlineNanos).isEmpty()) {
                    // trailers carry nothing the driver needs
                }
                return out.toByteArray();
            }
            if (out.size() + size > MAX_BODY) {
                throw new IOException("body too large");
            }
            out.write(readExactly(in, socket, deadlineNanos, size));
            readLine(in, socket, deadlineNanos);
        }
    }
}
