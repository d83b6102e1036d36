package io.meshinfer.batching;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class BucketsTest {
    @Test
    void observingSeveralAtOnceCountsAsObservingEachInTurn() {
        double[] values = {0.00001, 0.00005, 0.0003, 0.0003, 0.02, 7, 11, 0};
        Buckets one = new Buckets(Buckets.SECONDS);
        for (double v : values) {
            one.observe(v);
        }
        Buckets all = new Buckets(Buckets.SECONDS);
        all.observeAll(values);

        assertArrayEquals(one.counts(), all.counts());
        assertEquals(one.sum(), all.sum(), 1e-12);
        // bounds are inclusive upper bounds; 11 s lands in +Inf
        long[] c = all.counts();
        assertEquals(3, c[0], "0, 10 us and 50 us are at most 50 us");
        assertEquals(2, c[3], "300 us twice, at most 500 us");
        assertEquals(1, c[c.length - 1]);
        assertEquals(values.length, java.util.Arrays.stream(c).sum());
    }
}
