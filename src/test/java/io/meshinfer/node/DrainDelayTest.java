package io.meshinfer.node;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.testkit.Http;
import io.meshinfer.testkit.TestNode;
import io.meshinfer.testmodels.TestModels;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code meshinfer.node.drain-delay}: on a graceful leave the node reports not ready at once,
 * keeps answering inference requests over HTTP for the delay, and only then closes its HTTP
 * port; a delay out of range is refused at start.
 */
class DrainDelayTest {
    private static final String REQUEST = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,4],\"datatype\":\"FP32\","
            + "\"data\":[1,2,3,4]}]}";

    @Test
    void aLeavingNodeReportsNotReadyAndServesThroughTheDelayBeforeItClosesItsPort() throws Exception {
        Duration delay = Duration.ofSeconds(5);
        TestNode t = TestNode.start(Map.of("meshinfer.node.name", "draining-node", "meshinfer.node.drain-delay",
                delay.toMillis() + "ms"));
        try {
            assertEquals(201, Http.put(t.url() + "/v1/models/m/versions/1", TestModels.mlp()).status());
            await().atMost(Duration.ofSeconds(30)).until(() -> t.node().versionReady("m", "1")
                    && Http.get(t.url() + "/v2/health/ready").status() == 200);
            URI url = URI.create(t.url());

            long leaving = System.nanoTime();
            var exited = t.node().shutdown().toCompletableFuture();
            assertEquals(503, Http.get(t.url() + "/v2/health/ready").status(), "not ready at once");
            Http.Reply served = Http.post(t.url() + "/v2/models/m/infer", REQUEST);
            long servedAfter = System.nanoTime() - leaving;
            assertEquals(200, served.status(), served.body());
            assertTrue(servedAfter < delay.toNanos(), "answered within the delay, "
                    + TimeUnit.NANOSECONDS.toMillis(servedAfter) + " ms after the leave began");
            // requests taken while HTTP drains route as before, to other nodes' replicas too:
            // the node is not cut off until the leave reaches the cluster
            assertFalse(t.node().islandMode(), "in island mode while HTTP drains");
            assertFalse(served.body().contains("served_in_island_mode"), served.body());

            await("the HTTP port closes after the delay").atMost(Duration.ofSeconds(30)).until(() -> {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress(url.getHost(), url.getPort()), 1000);
                    return false;
                } catch (ConnectException refused) {
                    return true;
                } catch (IOException other) {
                    return false;
                }
            });
            assertTrue(System.nanoTime() - leaving >= delay.toNanos(), "not closed before the delay");
            assertEquals(0, exited.get(60, TimeUnit.SECONDS), "a graceful leave exits 0");
        } finally {
            t.close();
        }
    }

    @Test
    void aDelayOverFifteenSecondsIsRefusedAtStart() {
        RuntimeException e = assertThrows(RuntimeException.class,
                () -> TestNode.start(Map.of("meshinfer.node.drain-delay", "20s")).close());
        String message = e.getMessage() + (e.getCause() == null ? "" : " " + e.getCause().getMessage());
        assertTrue(message.contains("meshinfer.node.drain-delay must be between 0s and 15s"), message);
    }
}
