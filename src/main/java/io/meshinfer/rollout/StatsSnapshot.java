package io.meshinfer.rollout;

/**
 * What one or more nodes saw of one model version over a window: requests, errors, a
 * latency histogram (buckets of {@link VersionStats#bucketUpperMicros}), and the
 * comparisons of its answers with the old version's on mirrored traffic. Mergeable.
 */
public record StatsSnapshot(long requests, long errors, long[] latency, long compared, long agreed,
                            double maxAbsDiff) {

    public static StatsSnapshot empty() {
        return new StatsSnapshot(0, 0, new long[VersionStats.BUCKETS], 0, 0, 0);
    }

    public StatsSnapshot merge(StatsSnapshot o) {
        long[] h = latency.clone();
        for (int i = 0; i < h.length && i < o.latency.length; i++) {
            h[i] += o.latency[i];
        }
        return new StatsSnapshot(requests + o.requests, errors + o.errors, h, compared + o.compared,
                agreed + o.agreed, Math.max(maxAbsDiff, o.maxAbsDiff));
    }

    public double errorRate() {
        return requests == 0 ? 0 : (double) errors / requests;
    }

    public double agreement() {
        return compared == 0 ? 1 : (double) agreed / compared;
    }

    /** How many latencies the histogram holds. */
    public long latencySamples() {
        long n = 0;
        for (long c : latency) {
            n += c;
        }
        return n;
    }

    /** The latency at quantile {@code q} in milliseconds (a bucket's upper bound), 0 without data. */
    public double quantileMillis(double q) {
        long n = 0;
        for (long c : latency) {
            n += c;
        }
        if (n == 0) {
            return 0;
        }
        long rank = (long) Math.ceil(q * n);
        long seen = 0;
        for (int i = 0; i < latency.length; i++) {
            seen += latency[i];
            if (seen >= rank) {
                return VersionStats.bucketUpperMicros(i) / 1000.0;
            }
        }
        return VersionStats.bucketUpperMicros(latency.length - 1) / 1000.0;
    }
}
