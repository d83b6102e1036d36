package io.meshinfer.batching;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * How one replica batches: at most {@code maxBatch} rows per run, an optional
 * {@code maxDelay} to hold an incomplete batch (zero: never wait), at most
 * {@code queueCapacity} requests waiting, {@code concurrentRuns} runs at once, and at most
 * {@code maxQueueDelay} of estimated work queued (zero: no limit) before new requests are
 * refused as overloaded.
 */
public record BatchPolicy(int maxBatch, Duration maxDelay, int queueCapacity, int concurrentRuns,
                          Duration maxQueueDelay) {

    public BatchPolicy {
        if (maxBatch < 1) {
            throw new IllegalArgumentException("maxBatch must be at least 1, got " + maxBatch);
        }
        if (maxDelay.isNegative()) {
            throw new IllegalArgumentException("maxDelay must not be negative, got " + maxDelay);
        }
        if (queueCapacity < 1) {
            throw new IllegalArgumentException("queueCapacity must be at least 1, got " + queueCapacity);
        }
        if (concurrentRuns < 1) {
            throw new IllegalArgumentException("concurrentRuns must be at least 1, got " + concurrentRuns);
        }
        if (maxQueueDelay.isNegative()) {
            throw new IllegalArgumentException("maxQueueDelay must not be negative, got " + maxQueueDelay);
        }
    }

    /** A policy without a queueing-delay limit (only the queue capacity bounds waiting). */
    public BatchPolicy(int maxBatch, Duration maxDelay, int queueCapacity, int concurrentRuns) {
        this(maxBatch, maxDelay, queueCapacity, concurrentRuns, Duration.ZERO);
    }

    /** The node's defaults, from {@code meshinfer.batching}. */
    public static BatchPolicy fromConfig(Config root) {
        Config c = root.getConfig("meshinfer.batching");
        return new BatchPolicy(
                c.getInt("max-batch"),
                c.getDuration("max-delay"),
                c.getInt("queue-capacity"),
                c.getInt("concurrent-runs"),
                c.getDuration("max-queue-delay"));
    }

    /** This policy with a deploy's overrides; a null override keeps the default. */
    public BatchPolicy withOverrides(Integer maxBatchOverride, Long maxDelayMillisOverride) {
        return new BatchPolicy(
                maxBatchOverride == null ? maxBatch : maxBatchOverride,
                maxDelayMillisOverride == null ? maxDelay : Duration.ofMillis(maxDelayMillisOverride),
                queueCapacity,
                concurrentRuns,
                maxQueueDelay);
    }
}
