package io.meshinfer.routing;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * How requests are routed, read once from {@code meshinfer.routing} and
 * {@code meshinfer.limits}.
 *
 * @param defaultTimeout the budget of a request that names none
 * @param maxTimeout the largest budget a request may ask for
 * @param replyGrace how long after its deadline a reply is still awaited before the
 *     request is answered {@code DEADLINE_EXCEEDED} (covers a run that started in time)
 * @param maxAttempts replicas tried for one request (retries on overload, unavailability
 *     or a lost node)
 * @param localitySpill requests in flight to the nearest replicas beyond which farther
 *     replicas are considered too
 * @param maxRequestBytes the largest total input size of one request
 */
public record RouterSettings(Duration defaultTimeout, Duration maxTimeout, Duration replyGrace, int maxAttempts,
                             int localitySpill, long maxRequestBytes) {

    public static RouterSettings fromConfig(Config root) {
        Config r = root.getConfig("meshinfer.routing");
        return new RouterSettings(
                r.getDuration("default-timeout"),
                r.getDuration("max-timeout"),
                r.getDuration("reply-grace"),
                r.getInt("max-attempts"),
                r.getInt("locality-spill"),
                root.getBytes("meshinfer.limits.max-request-bytes"));
    }
}
