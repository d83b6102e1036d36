package io.meshinfer.multijvm;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The load driver's accounting against a stub gateway in this JVM (no cluster): every
 * request ends with exactly one outcome of the right kind, and refused connections fail
 * over to the next gateway. Runs with the unit tests (surefire), in a few seconds.
 */
class LoadDriverTest {
    private static final String ANSWER = "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"y\",\"shape\":[1,3],"
            + "\"datatype\":\"FP32\",\"data\":[0.1,0.2,0.7]}],\"parameters\":{\"node\":\"stub\",\"region\":\"r\"}}";

    private final CountDownLatch release = new CountDownLatch(1);
    private final ExecutorService executor = Executors.newFixedThreadPool(64);
    private HttpServer server;
    private final List<HttpServer> extraServers = new ArrayList<>();

    @AfterEach
    void stopServer() {
        release.countDown();
        if (server != null) {
            server.stop(0);
        }
        extraServers.forEach(s -> s.stop(0));
        executor.shutdownNow();
    }

    /** Answers: every 5th request 503 typed, every 7th 200 with a broken body, every 11th hangs, others 200. */
    private Gateway stub() throws IOException {
        AtomicLong n = new AtomicLong();
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        server.setExecutor(executor);
        server.createContext("/", exchange -> {
            exchange.getRequestBody().readAllBytes();
            long i = n.incrementAndGet();
            int status = 200;
            String body = ANSWER;
            if (i % 11 == 0) {
                try {
                    release.await(800, TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            } else if (i % 5 == 0) {
                status = 503;
                body = "{\"error\":\"no replica\"}";
            } else if (i % 7 == 0) {
                body = "{\"outputs\":[]}";
            }
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(status, bytes.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        });
        server.start();
        return new Gateway("stub", "127.0.0.1", server.getAddress().getPort());
    }

    private static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        }
    }

    @Test
    void everyRequestEndsWithExactlyOneOutcomeOfTheRightKind() throws IOException {
        Gateway g = stub();
        LoadDriver driver = LoadDriver.builder("t", List.of(g)).ratePerSecond(200).threads(8)
                .timeout(Duration.ofMillis(300)).grace(Duration.ofMillis(200)).start();
        await().atMost(Duration.ofSeconds(20)).until(() -> driver.snapshot().answered() >= 150);
        LoadResult r = driver.stop();

        assertEquals(0, r.unanswered(), r.summary());
        assertEquals(0, r.duplicates(), r.summary());
        assertEquals(r.sent(), r.succeeded() + r.failed());
        assertTrue(r.succeeded() > 0, r.summary());
        assertTrue(r.failedByType().getOrDefault("HTTP 503", 0L) > 0, r.summary());
        assertTrue(r.failedByType().getOrDefault("BAD_RESPONSE", 0L) > 0, r.summary());
        assertTrue(r.failedByType().getOrDefault("TIMEOUT", 0L) > 0, r.summary());
        assertTrue(r.failures().stream().filter(o -> o.kind() == Outcome.Kind.HTTP_ERROR).allMatch(Outcome::typed));
        assertTrue(r.outcomes().stream().filter(o -> o.kind() == Outcome.Kind.TIMEOUT)
                .allMatch(o -> o.latencyMillis() >= 450 && o.latencyMillis() < 10_000), r.summary());
        assertEquals(r.succeeded(), r.servedBy().get("stub"));
        assertTrue(r.timeline(1000).size() >= 1);
    }

    @Test
    void refusedConnectionsFailOverToTheNextGatewayAndAreCounted() throws IOException {
        Gateway live = stub();
        Gateway down = new Gateway("down", "127.0.0.1", closedPort());
        release.countDown();
        LoadDriver driver = LoadDriver.builder("t", List.of(down, live)).ratePerSecond(100).threads(4)
                .timeout(Duration.ofMillis(500)).start();
        await().atMost(Duration.ofSeconds(20)).until(() -> driver.snapshot().answered() >= 60);
        LoadResult r = driver.stop();

        assertEquals(0, r.unanswered(), r.summary());
        assertTrue(r.failedOver() > 0, r.summary());
        assertTrue(r.outcomes().stream().allMatch(o -> o.gateway().equals("stub")), r.summary());
        assertEquals(r.outcomes().stream().filter(o -> o.seq() % 2 == 0).count(), r.failedOver(), r.summary());
    }

    @Test
    void noGatewayAcceptingIsAConnectFailure() throws IOException {
        Gateway down = new Gateway("down", "127.0.0.1", closedPort());
        LoadDriver driver = LoadDriver.builder("t", List.of(down)).ratePerSecond(50).threads(2).start();
        await().atMost(Duration.ofSeconds(20)).until(() -> driver.snapshot().answered() >= 10);
        LoadResult r = driver.stop();

        assertEquals(0, r.unanswered());
        assertEquals(r.sent(), r.failedByType().get("CONNECT_FAILED"), r.summary());
        assertTrue(r.firstFailureAfter(0).isPresent());
        assertTrue(r.fullSuccessAgainAfter(0).isEmpty());
    }

    @Test
    void aReadinessProbeKeepsRequestsAwayFromNotReadyGateways() throws IOException {
        Gateway ready = healthStub("ready", 200);
        Gateway starting = healthStub("starting", 503);
        LoadDriver driver = LoadDriver.builder("t", List.of(starting, ready)).ratePerSecond(100).threads(4)
                .readinessProbe(Duration.ofMillis(100)).start();
        await().atMost(Duration.ofSeconds(20)).until(() -> driver.snapshot().answered() >= 60);
        LoadResult r = driver.stop();

        assertEquals(0, r.unanswered(), r.summary());
        assertEquals(r.sent(), r.succeeded(), r.summary());
        assertTrue(r.outcomes().stream().allMatch(o -> o.gateway().equals("ready")), r.summary());
        assertTrue(r.routedAroundNotReady() > 0, r.summary());
        assertEquals(0, r.failedOver(), r.summary());
    }

    /** A gateway whose readiness answers {@code readyStatus} and whose inference always succeeds. */
    private Gateway healthStub(String name, int readyStatus) throws IOException {
        HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        s.setExecutor(executor);
        s.createContext("/", exchange -> {
            exchange.getRequestBody().readAllBytes();
            boolean health = exchange.getRequestURI().getPath().equals("/v2/health/ready");
            byte[] bytes = (health ? "{}" : ANSWER).getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(health ? readyStatus : 200, bytes.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        });
        s.start();
        extraServers.add(s);
        return new Gateway(name, "127.0.0.1", s.getAddress().getPort());
    }
}
