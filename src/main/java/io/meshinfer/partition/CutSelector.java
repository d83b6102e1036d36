package io.meshinfer.partition;

import java.util.ArrayDeque;
import java.util.Arrays;

/**
 * Chooses where to cut a sequence of nodes into K contiguous, non-empty stages.
 *
 * <p>A cut at position {@code p} (1 ≤ p < N) separates node {@code p-1} from node {@code p};
 * {@code cutBytes[p]} is what crosses it per sample, negative where a cut is not allowed.
 * The choice is made in two steps:
 * <ol>
 *   <li>the smallest achievable maximum stage cost {@code C*} (binary search over the bound,
 *       each bound checked greedily: cut as late as the bound allows, which needs the fewest
 *       stages; more stages never raise the maximum);</li>
 *   <li>among all splits whose every stage costs at most {@code (1 + tolerance) · C*}, the one
 *       with the fewest bytes crossing all cuts together (dynamic programming over
 *       (stages, position) with a sliding-window minimum, O(K·N)); on equal bytes, the later
 *       cut.</li>
 * </ol>
 * So the split is balanced to within the tolerance of the best possible balance, and within
 * that the activations sent between stages are as small as they can be.
 */
final class CutSelector {
    private CutSelector() {
    }

    /**
     * The K-1 cut positions, ascending.
     *
     * @throws IllegalArgumentException if no split into K stages uses only allowed cuts
     */
    static int[] choose(long[] cost, long[] cutBytes, int stages, double tolerance) {
        int n = cost.length;
        if (stages == 1) {
            return new int[0];
        }
        long[] prefix = new long[n + 1];
        long maxNode = 0;
        for (int i = 0; i < n; i++) {
            prefix[i + 1] = prefix[i] + cost[i];
            maxNode = Math.max(maxNode, cost[i]);
        }
        long lo = maxNode;
        long hi = prefix[n];
        if (!feasible(prefix, cutBytes, stages, hi)) {
            throw new IllegalArgumentException("no split into " + stages + " stages exists: only "
                    + allowedCuts(cutBytes) + " positions can be cut");
        }
        while (lo < hi) {
            long mid = lo + (hi - lo) / 2;
            if (feasible(prefix, cutBytes, stages, mid)) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        long bound = (long) Math.min((double) prefix[n], Math.floor(lo * (1.0 + tolerance)));
        return fewestBytes(prefix, cutBytes, stages, Math.max(bound, lo));
    }

    static int allowedCuts(long[] cutBytes) {
        int allowed = 0;
        for (int p = 1; p < cutBytes.length - 1; p++) {
            if (cutBytes[p] >= 0) {
                allowed++;
            }
        }
        return allowed;
    }

    /** Whether K stages of cost at most {@code bound} each exist. */
    private static boolean feasible(long[] prefix, long[] cutBytes, int stages, long bound) {
        int n = prefix.length - 1;
        if (allowedCuts(cutBytes) < stages - 1) {
            return false;
        }
        int start = 0;
        int used = 1;
        while (prefix[n] - prefix[start] > bound) {
            int cut = -1;
            for (int p = start + 1; p < n && prefix[p] - prefix[start] <= bound; p++) {
                if (cutBytes[p] >= 0) {
                    cut = p;
                }
            }
            if (cut < 0 || ++used > stages) {
                return false;
            }
            start = cut;
        }
        return true;
    }

    private static int[] fewestBytes(long[] prefix, long[] cutBytes, int stages, long bound) {
        int n = prefix.length - 1;
        final long inf = Long.MAX_VALUE;
        long[] prev = new long[n + 1];
        Arrays.fill(prev, inf);
        int[][] parent = new int[stages + 1][n + 1];
        for (int j = 1; j <= n; j++) {
            if (prefix[j] <= bound) {
                prev[j] = 0;
            }
        }
        for (int k = 2; k <= stages; k++) {
            long[] cur = new long[n + 1];
            Arrays.fill(cur, inf);
            ArrayDeque<Integer> window = new ArrayDeque<>(); // candidate previous cuts, values ascending
            int lo = 1;
            for (int j = 2; j <= n; j++) {
                int i = j - 1;
                if (cutBytes[i] >= 0 && prev[i] != inf) {
                    long v = prev[i] + cutBytes[i];
                    while (!window.isEmpty() && prev[window.peekLast()] + cutBytes[window.peekLast()] >= v) {
                        window.pollLast();
                    }
                    window.addLast(i);
                }
                while (prefix[j] - prefix[lo] > bound) {
                    lo++;
                }
                while (!window.isEmpty() && window.peekFirst() < lo) {
                    window.pollFirst();
                }
                if (!window.isEmpty()) {
                    int best = window.peekFirst();
                    cur[j] = prev[best] + cutBytes[best];
                    parent[k][j] = best;
                }
            }
            prev = cur;
        }
        if (prev[n] == inf) {
            throw new IllegalStateException("no split within the bound " + bound + " although one was found feasible");
        }
        int[] cuts = new int[stages - 1];
        int j = n;
        for (int k = stages; k >= 2; k--) {
            j = parent[k][j];
            cuts[k - 2] = j;
        }
        return cuts;
    }
}
