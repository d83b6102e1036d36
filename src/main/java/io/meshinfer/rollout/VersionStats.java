package io.meshinfer.rollout;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * This node's per-second record of what the versions in a rollout did: requests, errors,
 * latency, and answer comparisons on mirrored traffic, kept for a sliding window of whole
 * seconds so the rollout manager can judge any step's traffic by asking every node.
 *
 * <p>Only versions of models with an active rollout are recorded (nothing is kept, and
 * nothing costs, otherwise); {@link #retain} drops the others. Memory per version is fixed:
 * {@code windowSeconds * (6 + BUCKETS)} longs. Lock-free; a second's slot is recycled by
 * the first writer of a later second, so counts at a slot's turnover are approximate.
 */
public final class VersionStats {
    /** Latency buckets: 4 per octave from 16 us to about 17 s. */
    public static final int BUCKETS = 80;
    private static final int FIELDS = 6;
    private static final int STAMP = 0;
    private static final int REQUESTS = 1;
    private static final int ERRORS = 2;
    private static final int COMPARED = 3;
    private static final int AGREED = 4;
    private static final int MAX_DIFF = 5;
    private static final int SLOT = FIELDS + BUCKETS;

    private final int windowSeconds;
    private final Map<String, AtomicLongArray> windows = new ConcurrentHashMap<>();

    public VersionStats(int windowSeconds) {
        this.windowSeconds = Math.max(2, windowSeconds);
    }

    public int windowSeconds() {
        return windowSeconds;
    }

    /** The upper bound of latency bucket {@code i}, in microseconds. */
    public static long bucketUpperMicros(int i) {
        return Math.round(16 * Math.pow(2, (i + 1) / 4.0));
    }

    static int bucketOf(long micros) {
        if (micros <= 16) {
            return 0;
        }
        int b = (int) Math.floor(4 * (Math.log(micros / 16.0) / Math.log(2)));
        return Math.min(BUCKETS - 1, Math.max(0, b));
    }

    /** Records one answered (or failed) request to {@code key} ("model@version"). */
    public void record(String key, long latencyNanos, boolean error) {
        AtomicLongArray w = windows.computeIfAbsent(key, k -> new AtomicLongArray(windowSeconds * SLOT));
        int base = slot(w, System.currentTimeMillis() / 1000);
        w.incrementAndGet(base + REQUESTS);
        if (error) {
            w.incrementAndGet(base + ERRORS);
        }
        w.incrementAndGet(base + FIELDS + bucketOf(latencyNanos / 1000));
    }

    /** Records one comparison of {@code key}'s answer with the serving version's. */
    public void recordComparison(String key, boolean agreed, double absDiff) {
        AtomicLongArray w = windows.computeIfAbsent(key, k -> new AtomicLongArray(windowSeconds * SLOT));
        int base = slot(w, System.currentTimeMillis() / 1000);
        w.incrementAndGet(base + COMPARED);
        if (agreed) {
            w.incrementAndGet(base + AGREED);
        }
        long bits = Double.doubleToLongBits(Double.isNaN(absDiff) ? Double.MAX_VALUE : absDiff);
        w.accumulateAndGet(base + MAX_DIFF, bits, (a, b) ->
                Double.longBitsToDouble(a) >= Double.longBitsToDouble(b) ? a : b);
    }

    private int slot(AtomicLongArray w, long second) {
        int base = (int) (second % windowSeconds) * SLOT;
        long stamp = w.get(base + STAMP);
        if (stamp != second && w.compareAndSet(base + STAMP, stamp, second)) {
            for (int i = 1; i < SLOT; i++) {
                w.set(base + i, 0);
            }
        }
        return base;
    }

    /** What {@code key} did from {@code sinceMillis} (at whole-second resolution) until now. */
    public StatsSnapshot since(String key, long sinceMillis) {
        AtomicLongArray w = windows.get(key);
        if (w == null) {
            return StatsSnapshot.empty();
        }
        long now = System.currentTimeMillis() / 1000;
        long from = Math.max(sinceMillis / 1000, now - windowSeconds + 1);
        long requests = 0;
        long errors = 0;
        long compared = 0;
        long agreed = 0;
        double maxDiff = 0;
        long[] hist = new long[BUCKETS];
        for (int s = 0; s < windowSeconds; s++) {
            int base = s * SLOT;
            long stamp = w.get(base + STAMP);
            if (stamp < from || stamp > now) {
                continue;
            }
            requests += w.get(base + REQUESTS);
            errors += w.get(base + ERRORS);
            compared += w.get(base + COMPARED);
            agreed += w.get(base + AGREED);
            maxDiff = Math.max(maxDiff, Double.longBitsToDouble(w.get(base + MAX_DIFF)));
            for (int i = 0; i < BUCKETS; i++) {
                hist[i] += w.get(base + FIELDS + i);
            }
        }
        return new StatsSnapshot(requests, errors, hist, compared, agreed, maxDiff);
    }

    /** Drops the windows of every version not in {@code keep}. */
    public void retain(Set<String> keep) {
        windows.keySet().retainAll(keep);
    }

    /** Versions currently recorded. */
    public Set<String> recorded() {
        return Set.copyOf(windows.keySet());
    }
}
