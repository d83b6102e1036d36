package io.meshinfer.batching;

import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/**
 * A fixed-bound histogram updated lock-free from many threads (non-cumulative counts per
 * upper bound, plus one overflow bucket, and the sum), read by the metrics endpoint.
 */
public final class Buckets {
    /** Rows per run: powers of two up to 1024. */
    static final double[] ROWS = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
    /** Seconds: 50 us to 10 s. */
    static final double[] SECONDS = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
        0.25, 0.5, 1, 2.5, 5, 10};

    private final double[] bounds;
    private final LongAdder[] counts;
    private final DoubleAdder sum = new DoubleAdder();

    Buckets(double[] bounds) {
        this.bounds = bounds;
        this.counts = new LongAdder[bounds.length + 1];
        for (int i = 0; i < counts.length; i++) {
            counts[i] = new LongAdder();
        }
    }

    void observe(double value) {
        int i = 0;
        while (i < bounds.length && value > bounds[i]) {
            i++;
        }
        counts[i].increment();
        sum.add(value);
    }

    /** Observes several values with one update per bucket touched and one of the sum. */
    void observeAll(double[] values) {
        long[] local = new long[counts.length];
        double total = 0;
        for (double value : values) {
            int i = 0;
            while (i < bounds.length && value > bounds[i]) {
                i++;
            }
            local[i]++;
            total += value;
        }
        for (int i = 0; i < local.length; i++) {
            if (local[i] != 0) {
                counts[i].add(local[i]);
            }
        }
        sum.add(total);
    }

    /** Upper bounds (the last bucket, not listed, is +Inf). */
    public double[] bounds() {
        return bounds.clone();
    }

    /** Counts per bucket, not cumulative, one more than {@link #bounds()} (the +Inf bucket last). */
    public long[] counts() {
        long[] c = new long[counts.length];
        for (int i = 0; i < c.length; i++) {
            c[i] = counts[i].sum();
        }
        return c;
    }

    public double sum() {
        return sum.sum();
    }
}
