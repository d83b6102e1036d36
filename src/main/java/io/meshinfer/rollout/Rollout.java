package io.meshinfer.rollout;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The replicated state of one model's rollout, kept in its catalog entry beside the
 * routing weights so that a step (new weights plus the rollout's position) is one atomic
 * write: a new manager resuming after fail-over finds either both or neither, so no step
 * is applied twice or skipped.
 *
 * @param step index into the spec's steps being dwelt on; -1 while waiting for the new
 *     version to become ready
 * @param stepStartedAtMillis when the current step (or the wait) began, cluster wall clock
 * @param pausedAtMillis when it was paused (0: not paused); the dwell resumes from there
 * @param baselineP99Millis the old version's last measured p99, for steps where it no
 *     longer takes enough traffic to measure (0: none yet)
 * @param history what happened, oldest first, at most {@link #MAX_HISTORY} events
 */
public record Rollout(String model, String from, RolloutSpec spec, Status status, int step,
                     long stepStartedAtMillis, long pausedAtMillis, String reason, long startedAtMillis,
                     long updatedAtMillis, String startedBy, double baselineP99Millis, List<Event> history) {

    public static final int MAX_HISTORY = 64;

    /** Where a rollout stands. */
    public enum Status {
        RUNNING, PAUSED, COMPLETED, ROLLED_BACK;

        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** One thing that happened: a step applied, a pause, a rollback, with the weights after it. */
    public record Event(long atMillis, int step, String what, Map<String, Integer> weights) {
        public Event {
            weights = Map.copyOf(weights);
        }
    }

    public Rollout {
        history = List.copyOf(history);
    }

    public boolean active() {
        return status == Status.RUNNING || status == Status.PAUSED;
    }

    public String to() {
        return spec.to();
    }

    /** The current step's percentage (0 while waiting for readiness). */
    public int percent() {
        return step < 0 ? 0 : spec.steps().get(step);
    }

    /** Whether answers of the new version are compared with the old one's on mirrored traffic. */
    public boolean mirrors() {
        return status == Status.RUNNING && step >= 0
                && (spec.strategy() == RolloutSpec.Strategy.SHADOW || spec.gates().compares());
    }

    /** The share of the old version's traffic mirrored to the new one, 0 to 1. */
    public double mirrorFraction() {
        return mirrors() ? percent() / 100.0 : 0;
    }

    Rollout with(Status status, int step, long stepStartedAt, long pausedAt, String reason, long now,
                 double baselineP99, Event event) {
        List<Event> h = new ArrayList<>(history);
        if (event != null) {
            h.add(event);
            while (h.size() > MAX_HISTORY) {
                h.remove(1); // keep the first event (the start)
            }
        }
        return new Rollout(model, from, spec, status, step, stepStartedAt, pausedAt, reason, startedAtMillis, now,
                startedBy, baselineP99, h);
    }
}
