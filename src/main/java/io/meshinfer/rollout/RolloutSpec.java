package io.meshinfer.rollout;

import java.util.List;

/**
 * What an operator asks for when starting a rollout: the version to move traffic to, how
 * (strategy, weight steps, dwell per step) and the health gates each step must pass.
 *
 * @param steps percent of unpinned traffic on the new version per step (canary), or the
 *     percent of live traffic mirrored to it (shadow); strictly increasing, ending at 100
 *     for canary; blue-green uses a single step of 100
 * @param stepMillis how long each step dwells before its gates are judged and the next applies
 */
public record RolloutSpec(String to, Strategy strategy, List<Integer> steps, long stepMillis, Gates gates) {

    /** How traffic moves to the new version. */
    public enum Strategy {
        /** Weight steps with a dwell and health gates per step. */
        CANARY,
        /** All traffic at once when the new version is ready and attested on every placed node. */
        BLUE_GREEN,
        /** The new version answers a mirrored copy of live traffic, compared and never returned. */
        SHADOW;

        /** The wire name: {@code canary}, {@code blue-green}, {@code shadow}. */
        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }

        public static Strategy parse(String s) {
            for (Strategy v : values()) {
                if (v.wireName().equals(s)) {
                    return v;
                }
            }
            throw new IllegalArgumentException("unknown strategy '" + s + "': use canary, blue-green or shadow");
        }
    }

    /**
     * Health gates judged per step on the traffic of that step, cluster-wide. A null gate is off.
     *
     * @param maxErrorRate most errors per request the new version may show above the old
     *     version's rate in the same window (0.01: one point of error rate more)
     * @param maxP99Ratio most the new version's p99 latency may be, as a multiple of the old's
     * @param minAgreement least share of compared answers whose top-1 class (argmax of the last
     *     axis) agrees with the old version's, on mirrored traffic
     * @param maxAbsDiff most absolute difference between compared outputs, on mirrored traffic
     * @param minRequests requests the new version (or comparisons, for the agreement gates)
     *     must see in a step before the step may pass
     */
    public record Gates(Double maxErrorRate, Double maxP99Ratio, Double minAgreement, Double maxAbsDiff,
                        int minRequests) {
        /** Whether outputs are compared on mirrored traffic. */
        public boolean compares() {
            return minAgreement != null || maxAbsDiff != null;
        }
    }

    public RolloutSpec {
        if (to == null || to.isEmpty()) {
            throw new IllegalArgumentException("\"to\" (the version to roll out) is required");
        }
        if (strategy == null) {
            throw new IllegalArgumentException("strategy is required");
        }
        steps = strategy == Strategy.BLUE_GREEN ? List.of(100) : List.copyOf(steps);
        if (steps.isEmpty()) {
            throw new IllegalArgumentException("steps must name at least one percentage");
        }
        int prev = 0;
        for (int s : steps) {
            if (s < 1 || s > 100 || s <= prev) {
                throw new IllegalArgumentException("steps must be strictly increasing percentages in 1..100, got "
                        + steps);
            }
            prev = s;
        }
        if (strategy == Strategy.CANARY && steps.get(steps.size() - 1) != 100) {
            throw new IllegalArgumentException("a canary's last step must be 100, got " + steps);
        }
        if (stepMillis < 0) {
            throw new IllegalArgumentException("stepSeconds must not be negative");
        }
        if (gates == null) {
            throw new IllegalArgumentException("gates are required");
        }
        if (strategy == Strategy.SHADOW && !gates.compares()) {
            throw new IllegalArgumentException("a shadow rollout needs minAgreement or maxAbsDiff: it is judged by"
                    + " comparing answers");
        }
    }
}
