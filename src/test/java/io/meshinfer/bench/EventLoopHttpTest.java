package io.meshinfer.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The load generator's event-loop HTTP client against small servers on 127.0.0.1 that
 * answer well, never, or with garbage: every request ends, with the answer or an error.
 */
class EventLoopHttpTest {

    /** What a test server does with one connection. */
    private interface Handler {
        void handle(InputStream in, OutputStream out) throws IOException;
    }

    /** Reads every request and never answers. */
    private static final Handler SILENT = (in, out) -> {
        while (readRequest(in)) {
            out.flush(); // nothing written: the request is held
        }
    };

    /** A server answering each connection's requests with {@code handler}, one thread per connection. */
    private static ServerSocket serve(Handler handler) throws IOException {
        ServerSocket server = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        Thread accept = new Thread(() -> {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    Thread t = new Thread(() -> {
                        try (s) {
                            handler.handle(s.getInputStream(), s.getOutputStream());
                        } catch (IOException e) {
                            // the client went away: this connection is done
                        }
                    });
                    t.setDaemon(true);
                    t.start();
                } catch (IOException closed) {
                    return;
                }
            }
        });
        accept.setDaemon(true);
        accept.start();
        return server;
    }

    /** Reads one request (head and Content-Length body); false when the connection closed. */
    private static boolean readRequest(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                return false;
            }
            head.append((char) b);
        }
        String h = head.toString().toLowerCase();
        int i = h.indexOf("content-length:");
        int length = Integer.parseInt(h.substring(i + 15, h.indexOf('\r', i)).trim());
        return in.readNBytes(length).length == length;
    }

    private static URI uri(ServerSocket server) {
        return URI.create("http://127.0.0.1:" + server.getLocalPort() + "/v2/models/m/infer");
    }

    @Test
    void requestsBeyondTheConnectionsWaitForOneAndAllAreAnswered() throws Exception {
        try (ServerSocket server = serve((in, out) -> {
            while (readRequest(in)) {
                out.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
        }); EventLoopHttp http = new EventLoopHttp(uri(server), 2, 100, 5_000)) {
            List<CompletableFuture<EventLoopHttp.Response>> answers = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                answers.add(http.post(new byte[300 * 1024], "application/json", null)); // bodies larger than a write
            }
            for (CompletableFuture<EventLoopHttp.Response> a : answers) {
                EventLoopHttp.Response r = a.get(10, TimeUnit.SECONDS);
                assertEquals(200, r.status());
                assertEquals("ok", new String(r.body(), StandardCharsets.US_ASCII));
            }
        }
    }

    @Test
    void aServerThatNeverAnswersTimesOut() throws Exception {
        try (ServerSocket server = serve(SILENT); EventLoopHttp http = new EventLoopHttp(uri(server), 4, 100, 300)) {
            CompletableFuture<EventLoopHttp.Response> a = http.post(new byte[10], "application/json", null);
            ExecutionException e = assertThrows(ExecutionException.class, () -> a.get(10, TimeUnit.SECONDS));
            assertInstanceOf(SocketTimeoutException.class, e.getCause());
        }
    }

    @Test
    void aGarbageAnswerIsAnError() throws Exception {
        try (ServerSocket server = serve((in, out) -> {
            if (readRequest(in)) {
                out.write("SSH-2.0-OpenSSH\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
        }); EventLoopHttp http = new EventLoopHttp(uri(server), 4, 100, 5_000)) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> http.post(new byte[10], "application/json", null).get(10, TimeUnit.SECONDS));
            assertTrue(e.getCause().getMessage().contains("not an HTTP/1.1 response"), e.getCause().toString());
        }
    }

    @Test
    void aRefusedConnectionIsAnErrorForEachRequestAndTheClientGoesOn() throws Exception {
        URI nobody;
        try (ServerSocket closedAgain = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            nobody = uri(closedAgain); // nothing listens there once it is closed
        }
        try (EventLoopHttp http = new EventLoopHttp(nobody, 4, 100, 5_000)) {
            for (int i = 0; i < 3; i++) {
                CompletableFuture<EventLoopHttp.Response> a = http.post(new byte[10], "application/json", null);
                ExecutionException e = assertThrows(ExecutionException.class, () -> a.get(10, TimeUnit.SECONDS));
                assertInstanceOf(IOException.class, e.getCause());
            }
        }
    }

    @Test
    void requestsBeyondTheWaitingLimitAreRefusedAtOnce() throws Exception {
        try (ServerSocket server = serve(SILENT); EventLoopHttp http = new EventLoopHttp(uri(server), 1, 4, 2_000)) {
            List<CompletableFuture<EventLoopHttp.Response>> answers = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                answers.add(http.post(new byte[10], "application/json", null));
            }
            long refused = answers.stream().filter(a -> a.isCompletedExceptionally()).count();
            assertTrue(refused > 0, "nothing refused of 50 with room for 1 + 4");
            for (CompletableFuture<EventLoopHttp.Response> a : answers) {
                ExecutionException e = assertThrows(ExecutionException.class, () -> a.get(10, TimeUnit.SECONDS));
                assertTrue(e.getCause() instanceof RejectedExecutionException
                        || e.getCause() instanceof SocketTimeoutException, e.getCause().toString());
            }
        }
    }
}
