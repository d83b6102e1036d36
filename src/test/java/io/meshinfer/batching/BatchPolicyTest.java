package io.meshinfer.batching;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The batching policy record and the stats snapshot's derived values; no streams. */
class BatchPolicyTest {

    @Test
    void defaultsComeFromTheReferenceConfig() {
        assertEquals(new BatchPolicy(16, Duration.ZERO, 256, 2, Duration.ofMillis(10)),
                BatchPolicy.fromConfig(ConfigFactory.load()));
    }

    @Test
    void overridesReplaceOnlyWhatTheyName() {
        BatchPolicy base = new BatchPolicy(16, Duration.ZERO, 256, 2);

        assertEquals(base, base.withOverrides(null, null));
        assertEquals(new BatchPolicy(4, Duration.ZERO, 256, 2), base.withOverrides(4, null));
        assertEquals(new BatchPolicy(16, Duration.ofMillis(5), 256, 2), base.withOverrides(null, 5L));
    }

    @Test
    void impossibleValuesAreRejectedWithTheirName() {
        assertEquals("maxBatch must be at least 1, got 0", assertThrows(IllegalArgumentException.class,
                () -> new BatchPolicy(0, Duration.ZERO, 1, 1)).getMessage());
        assertEquals("maxDelay must not be negative, got PT-0.001S", assertThrows(IllegalArgumentException.class,
                () -> new BatchPolicy(1, Duration.ofMillis(-1), 1, 1)).getMessage());
        assertEquals("queueCapacity must be at least 1, got 0", assertThrows(IllegalArgumentException.class,
                () -> new BatchPolicy(1, Duration.ZERO, 0, 1)).getMessage());
        assertEquals("concurrentRuns must be at least 1, got 0", assertThrows(IllegalArgumentException.class,
                () -> new BatchPolicy(1, Duration.ZERO, 1, 0)).getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> new BatchPolicy(16, Duration.ZERO, 256, 2).withOverrides(0, null));
    }

    @Test
    void meansAreZeroBeforeTheFirstRunAndAveragesAfter() {
        BatcherStats.Snapshot none = new BatcherStats().snapshot();
        BatcherStats.Snapshot some = new BatcherStats.Snapshot(10, 0, 0, 4, 20, 10, 10, 0, 0);

        assertEquals(0.0, none.meanBatchRequests());
        assertEquals(0.0, none.meanBatchRows());
        assertEquals(2.5, some.meanBatchRequests());
        assertEquals(5.0, some.meanBatchRows());
    }
}
