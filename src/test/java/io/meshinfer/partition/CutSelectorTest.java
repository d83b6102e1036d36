package io.meshinfer.partition;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The cut selection against brute force over every split of small random graphs. */
class CutSelectorTest {

    @Test
    void matchesBruteForceOnRandomSequences() {
        Random random = new Random(42);
        for (int round = 0; round < 400; round++) {
            int n = 2 + random.nextInt(9);
            int k = 1 + random.nextInt(Math.min(n, 4));
            long[] cost = new long[n];
            for (int i = 0; i < n; i++) {
                cost[i] = 1 + random.nextInt(random.nextBoolean() ? 10 : 1000);
            }
            long[] bytes = new long[n + 1];
            bytes[0] = -1;
            bytes[n] = -1;
            for (int p = 1; p < n; p++) {
                bytes[p] = random.nextInt(8) == 0 ? -1 : random.nextInt(5000);
            }
            double tolerance = random.nextBoolean() ? 0.0 : 0.25;
            Best best = brute(cost, bytes, k, tolerance);
            if (best == null) {
                assertThrows(IllegalArgumentException.class, () -> CutSelector.choose(cost, bytes, k, tolerance));
                continue;
            }
            int[] cuts = CutSelector.choose(cost, bytes, k, tolerance);
            assertEquals(k - 1, cuts.length);
            long max = maxStage(cost, cuts);
            long sum = 0;
            for (int c : cuts) {
                assertTrue(bytes[c] >= 0, "cut at an allowed position");
                sum += bytes[c];
            }
            assertTrue(max <= Math.floor(best.minMax * (1 + tolerance)), "balanced within the tolerance");
            assertEquals(best.fewestBytes, sum, "fewest bytes among balanced splits, round " + round);
        }
    }

    @Test
    void prefersTheSmallCutWhenBalanceAllows() {
        // four equal nodes; the middle cut is huge, the ones beside it tiny
        long[] cost = {100, 100, 100, 100};
        long[] bytes = {-1, 10, 100_000, 10, -1};
        assertArrayEquals(new int[] {2}, CutSelector.choose(cost, bytes, 2, 0.0), "exact balance wins at 0 tolerance");
        assertArrayEquals(new int[] {3}, CutSelector.choose(cost, bytes, 2, 0.5), "300 ≤ 1.5·200: the small cut");
    }

    private record Best(long minMax, long fewestBytes) {
    }

    private static Best brute(long[] cost, long[] bytes, int k, double tolerance) {
        int n = cost.length;
        long minMax = Long.MAX_VALUE;
        java.util.List<int[]> all = new java.util.ArrayList<>();
        enumerate(n, k - 1, 1, new int[k - 1], 0, all);
        java.util.List<int[]> valid = all.stream().filter(c -> {
            for (int p : c) {
                if (bytes[p] < 0) {
                    return false;
                }
            }
            return true;
        }).toList();
        if (valid.isEmpty()) {
            return null;
        }
        for (int[] c : valid) {
            minMax = Math.min(minMax, maxStage(cost, c));
        }
        long bound = (long) Math.floor(minMax * (1 + tolerance));
        long fewest = Long.MAX_VALUE;
        for (int[] c : valid) {
            if (maxStage(cost, c) <= bound) {
                long s = 0;
                for (int p : c) {
                    s += bytes[p];
                }
                fewest = Math.min(fewest, s);
            }
        }
        return new Best(minMax, fewest);
    }

    private static void enumerate(int n, int left, int from, int[] cur, int depth, java.util.List<int[]> out) {
        if (left == 0) {
            out.add(cur.clone());
            return;
        }
        for (int p = from; p <= n - left; p++) {
            cur[depth] = p;
            enumerate(n, left - 1, p + 1, cur, depth + 1, out);
        }
    }

    private static long maxStage(long[] cost, int[] cuts) {
        long max = 0;
        int start = 0;
        for (int i = 0; i <= cuts.length; i++) {
            int end = i < cuts.length ? cuts[i] : cost.length;
            long s = 0;
            for (int j = start; j < end; j++) {
                s += cost[j];
            }
            max = Math.max(max, s);
            start = end;
        }
        return max;
    }
}
