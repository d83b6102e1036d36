package io.meshinfer.rollout;

/** A catalog or rollout command that cannot be applied, with the reason an operator reads. */
public final class RolloutRefused extends RuntimeException {
    private final RolloutManager.Outcome outcome;

    public RolloutRefused(RolloutManager.Outcome outcome, String message) {
        super(message, null, false, false);
        this.outcome = outcome;
    }

    public RolloutManager.Outcome outcome() {
        return outcome;
    }
}
