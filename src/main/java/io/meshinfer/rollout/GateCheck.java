package io.meshinfer.rollout;

import java.util.Locale;

/**
 * Judges a rollout step from what the cluster saw of the old and the new version since the
 * step began. Error and agreement gates are judged continuously, so a bad version is
 * rolled back as soon as it shows enough traffic, not at the end of the step; the latency
 * gate and the step's end wait for the dwell and for enough traffic.
 */
final class GateCheck {
    enum Kind {
        /** The step is still dwelling (or gathering traffic) and nothing is wrong. */
        HOLD,
        /** The dwell is over and every gate passed: apply the next step. */
        PASS,
        /** A gate failed: roll back. */
        FAIL
    }

    record Verdict(Kind kind, String reason, double oldP99Millis) {
    }

    private GateCheck() {
    }

    /**
     * @param dwellOver whether the step has dwelt its full time
     * @param p99SlackMillis a latency gate fails only when the new p99 also exceeds the old by this much
     */
    static Verdict judge(Rollout r, StatsSnapshot old, StatsSnapshot neu, boolean dwellOver, double p99SlackMillis) {
        RolloutSpec.Gates g = r.spec().gates();
        int min = Math.max(1, g.minRequests());
        double oldP99 = old.requests() >= min ? old.quantileMillis(0.99) : 0;
        if (g.maxErrorRate() != null && neu.requests() >= min) {
            double oldRate = old.requests() >= min ? old.errorRate() : 0;
            if (neu.errorRate() - oldRate > g.maxErrorRate()) {
                return new Verdict(Kind.FAIL, String.format(Locale.ROOT, "error rate of %s was %.4f (%d of %d"
                                + " requests) against %.4f for %s; the gate allows %.4f more", r.to(), neu.errorRate(),
                        neu.errors(), neu.requests(), oldRate, r.from(), g.maxErrorRate()), oldP99);
            }
        }
        if (g.minAgreement() != null && neu.compared() >= min && neu.agreement() < g.minAgreement()) {
            return new Verdict(Kind.FAIL, String.format(Locale.ROOT, "%s agreed with %s on %.4f of %d compared"
                            + " answers (top-1); the gate needs %.4f", r.to(), r.from(), neu.agreement(), neu.compared(),
                    g.minAgreement()), oldP99);
        }
        if (g.maxAbsDiff() != null && neu.compared() > 0 && neu.maxAbsDiff() > g.maxAbsDiff()) {
            return new Verdict(Kind.FAIL, String.format(Locale.ROOT, "outputs of %s differed from %s by up to %.6g"
                    + " over %d compared answers; the gate allows %.6g", r.to(), r.from(), neu.maxAbsDiff(),
                    neu.compared(), g.maxAbsDiff()), oldP99);
        }
        if (!dwellOver) {
            return new Verdict(Kind.HOLD, "step " + (r.step() + 1) + " dwelling", oldP99);
        }
        boolean shadow = r.spec().strategy() == RolloutSpec.Strategy.SHADOW;
        if (!shadow && neu.requests() < min) {
            return new Verdict(Kind.HOLD, "waiting for traffic: " + r.to() + " has served " + neu.requests() + " of the "
                    + min + " requests this step needs", oldP99);
        }
        if (g.compares() && neu.compared() < min) {
            return new Verdict(Kind.HOLD, "waiting for traffic: " + neu.compared() + " of the " + min
                    + " compared answers this step needs", oldP99);
        }
        if (g.maxP99Ratio() != null && !shadow) {
            double base = oldP99 > 0 ? oldP99 : r.baselineP99Millis();
            // under 100 samples the 99th percentile is the single slowest request, which one pause
            // of a busy host decides: judge the second slowest there instead (rank n-1 of n)
            long samples = neu.latencySamples();
            double q = samples >= 100 ? 0.99 : samples < 2 ? 1.0 : (samples - 1.5) / samples; // rank n-1
            double p99 = neu.quantileMillis(q);
            if (base > 0 && p99 > base * g.maxP99Ratio() && p99 - base > p99SlackMillis) {
                return new Verdict(Kind.FAIL, String.format(Locale.ROOT, "p99 latency of %s was %.2f ms%s against"
                                + " %.2f ms for %s; the gate allows %.2fx", r.to(), p99, samples >= 100 ? ""
                                : samples < 2 ? " (its only request)"
                                : " (the second slowest of its " + samples + " requests)", base, r.from(),
                        g.maxP99Ratio()), oldP99);
            }
        }
        return new Verdict(Kind.PASS, "step " + (r.step() + 1) + " passed", oldP99);
    }
}
