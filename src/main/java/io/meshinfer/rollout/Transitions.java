package io.meshinfer.rollout;

import io.meshinfer.registry.ModelEntry;
import io.meshinfer.registry.ModelManifest;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The catalog changes the rollout manager makes, as pure functions of a model's current
 * entry: each checks that the entry is still in the state the decision was taken in and
 * either returns the next entry or throws {@link RolloutRefused}. They run inside the
 * Distributed Data update, so a decision taken on a stale view is refused, never applied.
 */
final class Transitions {
    private Transitions() {
    }

    static ModelEntry deploy(ModelEntry current, ModelManifest m) {
        ModelEntry entry = current == null ? ModelEntry.empty(m.model()) : current;
        ModelManifest existing = entry.versions().get(m.version());
        if (existing != null && !existing.sha256().equals(m.sha256())) {
            throw new RolloutRefused(RolloutManager.Outcome.CONFLICT, "version '" + m.version() + "' of model '"
                    + m.model() + "' is already deployed with different content (sha256 " + existing.sha256()
                    + "); versions are immutable: deploy a new version or undeploy this one first");
        }
        for (ModelManifest other : entry.versions().values()) {
            if (other.isEnsemble() != m.isEnsemble()) {
                throw new RolloutRefused(RolloutManager.Outcome.CONFLICT, "'" + m.model() + "' already serves "
                        + (other.isEnsemble() ? "an ensemble" : "a model") + " (version '" + other.version()
                        + "'); a model and an ensemble cannot share a name");
            }
        }
        return entry.withVersion(m);
    }

    /** Returns null when the model has no version left. */
    static ModelEntry undeploy(ModelEntry current, String model, String version) {
        if (current == null || !current.versions().containsKey(version)) {
            throw new RolloutRefused(RolloutManager.Outcome.NOT_FOUND, "version '" + version + "' of model '" + model
                    + "' is not deployed");
        }
        current.activeRollout().ifPresent(r -> {
            if (r.from().equals(version) || r.to().equals(version)) {
                throw new RolloutRefused(RolloutManager.Outcome.CONFLICT, "version '" + version + "' of model '"
                        + model + "' is in a rollout (" + r.from() + " -> " + r.to() + "); abort or finish it first");
            }
        });
        ModelEntry next = current.withoutVersion(version);
        return next.versions().isEmpty() ? null : next;
    }

    static ModelEntry start(ModelEntry current, String model, RolloutSpec spec, String by, String manager, long now) {
        if (current == null) {
            throw new RolloutRefused(RolloutManager.Outcome.NOT_FOUND, "model '" + model + "' is not deployed");
        }
        if (!current.versions().containsKey(spec.to())) {
            throw new RolloutRefused(RolloutManager.Outcome.NOT_FOUND, "version '" + spec.to() + "' of model '"
                    + model + "' is not deployed (deployed: " + new TreeMap<>(current.versions()).keySet() + ")");
        }
        current.activeRollout().ifPresent(r -> {
            throw new RolloutRefused(RolloutManager.Outcome.CONFLICT, "a rollout of model '" + model + "' ("
                    + r.from() + " -> " + r.to() + ") is already " + r.status().wireName()
                    + "; promote or abort it first");
        });
        String from = current.servingVersion().orElseThrow(() -> new RolloutRefused(
                RolloutManager.Outcome.CONFLICT, "no version of model '" + model + "' takes traffic to roll out from"));
        if (from.equals(spec.to()) && current.weights().size() == 1) {
            throw new RolloutRefused(RolloutManager.Outcome.CONFLICT, "version '" + spec.to()
                    + "' already takes all traffic of model '" + model + "'");
        }
        Map<String, Integer> weights = Map.of(from, 100);
        Rollout r = new Rollout(model, from, spec, Rollout.Status.RUNNING, -1, now, 0,
                "waiting for " + spec.to() + " to be ready", now, now, by, 0,
                List.of(new Rollout.Event(now, -1, spec.strategy().wireName() + " rollout " + from + " -> "
                        + spec.to() + " started by " + by + " (manager " + manager + ")", weights)));
        return current.withRouting(weights, r);
    }

    /** Moves from step {@code expectedStep} to the next one (or completes after the last). */
    static ModelEntry advance(ModelEntry current, Rollout seen, String manager, long now, double baselineP99) {
        Rollout r = expect(current, seen, Rollout.Status.RUNNING);
        int next = r.step() + 1;
        List<Integer> steps = r.spec().steps();
        if (next >= steps.size()) {
            return complete(current, r, "completed: every step passed its gates (manager " + manager + ")", now);
        }
        int p = steps.get(next);
        Map<String, Integer> weights = weightsAt(r, p);
        String what = (r.spec().strategy() == RolloutSpec.Strategy.SHADOW
                ? "step " + (next + 1) + "/" + steps.size() + ": " + p + "% of traffic mirrored to " + r.to()
                : "step " + (next + 1) + "/" + steps.size() + ": " + p + "% of traffic to " + r.to())
                + " (manager " + manager + ")";
        Rollout updated = r.with(Rollout.Status.RUNNING, next, now, 0, what, now,
                baselineP99 > 0 ? baselineP99 : r.baselineP99Millis(), new Rollout.Event(now, next, what, weights));
        return current.withRouting(weights, updated);
    }

    /** Records why a step is still waiting, without moving. */
    static ModelEntry note(ModelEntry current, Rollout seen, String reason, long now, double baselineP99) {
        Rollout r = expect(current, seen, Rollout.Status.RUNNING);
        if (reason.equals(r.reason()) && baselineP99 <= 0) {
            return current;
        }
        Rollout updated = r.with(r.status(), r.step(), r.stepStartedAtMillis(), r.pausedAtMillis(), reason, now,
                baselineP99 > 0 ? baselineP99 : r.baselineP99Millis(), null);
        return current.withRouting(current.weights(), updated);
    }

    static ModelEntry rollBack(ModelEntry current, Rollout seen, String reason, long now) {
        Rollout r = expect(current, seen, null);
        Map<String, Integer> weights = Map.of(r.from(), 100);
        Rollout updated = r.with(Rollout.Status.ROLLED_BACK, r.step(), r.stepStartedAtMillis(), 0, reason, now,
                r.baselineP99Millis(), new Rollout.Event(now, r.step(), "rolled back: " + reason, weights));
        return current.withRouting(weights, updated);
    }

    static ModelEntry complete(ModelEntry current, Rollout seen, String reason, long now) {
        Rollout r = expect(current, seen, null);
        Map<String, Integer> weights = Map.of(r.to(), 100);
        Rollout updated = r.with(Rollout.Status.COMPLETED, r.step(), r.stepStartedAtMillis(), 0, reason, now,
                r.baselineP99Millis(), new Rollout.Event(now, r.step(), reason, weights));
        return current.withRouting(weights, updated);
    }

    static ModelEntry pause(ModelEntry current, Rollout seen, String by, long now) {
        Rollout r = expect(current, seen, Rollout.Status.RUNNING);
        String what = "paused by " + by;
        return current.withRouting(current.weights(), r.with(Rollout.Status.PAUSED, r.step(), r.stepStartedAtMillis(),
                now, what, now, r.baselineP99Millis(), new Rollout.Event(now, r.step(), what, current.weights())));
    }

    static ModelEntry resume(ModelEntry current, Rollout seen, String by, long now) {
        Rollout r = expect(current, seen, Rollout.Status.PAUSED);
        String what = "resumed by " + by;
        long shifted = r.stepStartedAtMillis() + Math.max(0, now - r.pausedAtMillis());
        return current.withRouting(current.weights(), r.with(Rollout.Status.RUNNING, r.step(), shifted, 0, what, now,
                r.baselineP99Millis(), new Rollout.Event(now, r.step(), what, current.weights())));
    }

    /**
     * The rollout in {@code current}, which must still be the one {@code seen} (same start,
     * status and step) and, if given, in {@code status}.
     */
    private static Rollout expect(ModelEntry current, Rollout seen, Rollout.Status status) {
        Rollout r = current == null ? null : current.rollout();
        if (r == null || !r.active() || r.startedAtMillis() != seen.startedAtMillis() || r.step() != seen.step()
                || r.status() != seen.status() || (status != null && r.status() != status)) {
            throw new RolloutRefused(RolloutManager.Outcome.CONFLICT, "the rollout changed meanwhile"
                    + (r == null ? "" : " (now " + r.status().wireName() + ", step " + (r.step() + 1) + ")"));
        }
        return r;
    }

    private static Map<String, Integer> weightsAt(Rollout r, int percent) {
        Map<String, Integer> w = new HashMap<>();
        if (r.spec().strategy() == RolloutSpec.Strategy.SHADOW) {
            w.put(r.from(), 100);
        } else {
            w.put(r.to(), percent);
            if (percent < 100) {
                w.put(r.from(), 100 - percent);
            }
        }
        return w;
    }
}
