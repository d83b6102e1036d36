package io.meshinfer.rollout;

import io.meshinfer.api.Stages;
import io.meshinfer.registry.Catalog;
import io.meshinfer.registry.ModelEntry;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.routing.MembershipView;
import io.meshinfer.shard.ReplicaLocation;
import io.meshinfer.shard.ReplicaLocationView;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.StashBuffer;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.cluster.ddata.LWWMap;
import org.apache.pekko.cluster.ddata.SelfUniqueAddress;
import org.apache.pekko.cluster.ddata.typed.javadsl.DistributedData;
import org.apache.pekko.cluster.ddata.typed.javadsl.Replicator;
import org.apache.pekko.cluster.ddata.typed.javadsl.ReplicatorMessageAdapter;
import org.apache.pekko.cluster.typed.ClusterSingleton;
import org.apache.pekko.cluster.typed.SingletonActor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster singleton that is the only writer of the catalog: deploys, undeploys and
 * the routing table (version weights with their epoch) all go through it, so no two
 * writers ever race on a model's entry. It drives rollouts:
 * <ul>
 *   <li>waits for the new version to be ready (blue-green: every replica ready, and
 *       attested on every node that holds one);</li>
 *   <li>applies each step as one majority write of the entry (weights and the rollout's
 *       position together), dwells, asks every node what the old and the new version did
 *       since the step began, and judges the gates ({@link GateCheck});</li>
 *   <li>rolls back (all traffic to the old version, with the reason recorded) when a gate
 *       fails, or completes after the last step.</li>
 * </ul>
 * On start (after fail-over, or a restart of the whole cluster) it reads the catalog from
 * a majority before taking commands and resumes every active rollout from its replicated
 * state: the dwell continues from the step's recorded start, and each transition is
 * checked against the state it was decided on, so no step is applied twice or skipped.
 */
public final class RolloutManager extends AbstractBehavior<RolloutManager.Command> {
    private static final Logger log = LoggerFactory.getLogger(RolloutManager.class);

    /** Messages to the manager; the public ones cross the network (through the singleton proxy). */
    public interface Command {
    }

    /** The manager's own messages: never sent across the network, so never serialized. */
    private interface Local extends Command, org.apache.pekko.actor.NoSerializationVerificationNeeded {
    }

    /** How a command ended; maps to an HTTP status at the gateway. */
    public enum Outcome { OK, INVALID, NOT_FOUND, CONFLICT, UNAVAILABLE }

    /** The answer to every command: the outcome, a message, and the model's rollout afterwards. */
    public record Reply(Outcome outcome, String message, Rollout rollout) {
        public boolean ok() {
            return outcome == Outcome.OK;
        }
    }

    /** Operator actions on a running rollout. */
    public enum Action { PAUSE, RESUME, PROMOTE, ABORT }

    public record Deploy(ModelManifest manifest, ActorRef<Reply> replyTo) implements Command {
    }

    public record Undeploy(String model, String version, ActorRef<Reply> replyTo) implements Command {
    }

    public record Start(String model, RolloutSpec spec, String by, ActorRef<Reply> replyTo) implements Command {
    }

    public record Control(String model, Action action, String by, ActorRef<Reply> replyTo) implements Command {
    }

    private enum Tick implements Local { INSTANCE }

    /** Sent by the singleton manager when the singleton moves to another node. */
    private enum Stop implements Local { INSTANCE }

    private record Loaded(Replicator.GetResponse<LWWMap<String, ModelEntry>> response) implements Local {
    }

    private record Written(Replicator.UpdateResponse<LWWMap<String, ModelEntry>> response,
                           AtomicReference<ModelEntry> result, String model, ActorRef<Reply> replyTo)
            implements Local {
    }

    private record Changed(Replicator.SubscribeResponse<LWWMap<String, ModelEntry>> response) implements Local {
    }

    private record Reporters(Receptionist.Listing listing) implements Local {
    }

    private record Judged(String model, Rollout seen, StatsSnapshot old, StatsSnapshot neu) implements Local {
    }

    /** Whether a version's placed nodes all attested it; empty when they did (or it has no golden vectors). */
    @FunctionalInterface
    public interface AttestationCheck {
        Optional<String> problem(ModelManifest manifest, Set<String> nodes);

        AttestationCheck NONE = (m, n) -> Optional.empty();
    }

    private final ActorContext<Command> ctx;
    private final ReplicatorMessageAdapter<Command, LWWMap<String, ModelEntry>> replicator;
    private final SelfUniqueAddress self;
    private final StashBuffer<Command> stash;
    private final TimerScheduler<Command> timers;
    private final RolloutSettings settings;
    private final ReplicaLocationView locations;
    private final MembershipView members;
    private final AttestationCheck attestation;
    private final String node;
    private Map<String, ModelEntry> entries = Map.of();
    private Set<ActorRef<StatsReporter.Query>> reporters = Set.of();
    private final Set<String> judging = new HashSet<>();
    private boolean loaded;

    private RolloutManager(ActorContext<Command> ctx, ReplicatorMessageAdapter<Command, LWWMap<String, ModelEntry>> r,
                           StashBuffer<Command> stash, TimerScheduler<Command> timers, RolloutSettings settings,
                           ReplicaLocationView locations, MembershipView members, AttestationCheck attestation,
                           String node) {
        super(ctx);
        this.ctx = ctx;
        this.replicator = r;
        this.self = DistributedData.get(ctx.getSystem()).selfUniqueAddress();
        this.stash = stash;
        this.timers = timers;
        this.settings = settings;
        this.locations = locations;
        this.members = members;
        this.attestation = attestation;
        this.node = node;
        r.subscribe(Catalog.KEY, Changed::new);
        ctx.getSystem().receptionist().tell(Receptionist.subscribe(StatsReporter.KEY,
                ctx.messageAdapter(Receptionist.Listing.class, Reporters::new)));
        load();
    }

    /** Starts the singleton on this node's cluster system (on nodes that host replicas) and returns its proxy. */
    public static ActorRef<Command> init(org.apache.pekko.actor.typed.ActorSystem<?> system, RolloutSettings settings,
                                         ReplicaLocationView locations, MembershipView members,
                                         AttestationCheck attestation, String node, String role) {
        Behavior<Command> behavior = Behaviors.supervise(create(settings, locations, members, attestation, node))
                .onFailure(SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(5), 0.2));
        return ClusterSingleton.get(system).init(SingletonActor.of(behavior, "rollout-manager")
                .withSettings(org.apache.pekko.cluster.typed.ClusterSingletonSettings.create(system).withRole(role))
                .withStopMessage(Stop.INSTANCE));
    }

    static Behavior<Command> create(RolloutSettings settings, ReplicaLocationView locations, MembershipView members,
                                    AttestationCheck attestation, String node) {
        return Behaviors.withStash(1000, stash -> Behaviors.withTimers(timers -> Behaviors.setup(ctx ->
                DistributedData.withReplicatorMessageAdapter(
                        (ReplicatorMessageAdapter<Command, LWWMap<String, ModelEntry>> r) -> new RolloutManager(ctx,
                                r, stash, timers, settings, locations, members, attestation, node)))));
    }

    private void load() {
        replicator.askGet(replyTo -> new Replicator.Get<>(Catalog.KEY,
                new Replicator.ReadMajority(settings.writeTimeout()), replyTo), Loaded::new);
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Loaded.class, this::onLoaded)
                .onMessage(Changed.class, this::onChanged)
                .onMessage(Reporters.class, this::onReporters)
                .onMessage(Deploy.class, c -> whenLoaded(c, () -> onDeploy(c)))
                .onMessage(Undeploy.class, c -> whenLoaded(c, () -> onUndeploy(c)))
                .onMessage(Start.class, c -> whenLoaded(c, () -> onStart(c)))
                .onMessage(Control.class, c -> whenLoaded(c, () -> onControl(c)))
                .onMessage(Written.class, this::onWritten)
                .onMessageEquals(Tick.INSTANCE, this::onTick)
                .onMessageEquals(Stop.INSTANCE, Behaviors::stopped)
                .onMessage(Judged.class, this::onJudged)
                .build();
    }

    private Behavior<Command> whenLoaded(Command c, Runnable handle) {
        if (loaded) {
            handle.run();
        } else if (stash.isFull()) {
            replyTo(c).tell(new Reply(Outcome.UNAVAILABLE, "the rollout manager is starting and its queue is full",
                    null));
        } else {
            stash.stash(c);
        }
        return this;
    }

    private static ActorRef<Reply> replyTo(Command c) {
        if (c instanceof Deploy d) {
            return d.replyTo();
        } else if (c instanceof Undeploy u) {
            return u.replyTo();
        } else if (c instanceof Start s) {
            return s.replyTo();
        }
        return ((Control) c).replyTo();
    }

    private Behavior<Command> onLoaded(Loaded l) {
        if (l.response() instanceof Replicator.GetSuccess<LWWMap<String, ModelEntry>> ok) {
            entries = new HashMap<>(ok.dataValue().getEntries());
        } else if (!(l.response() instanceof Replicator.NotFound)) {
            log.info("rollout manager on {}: reading the catalog from a majority failed ({}); retrying", node,
                    l.response().getClass().getSimpleName());
            timers.startSingleTimer("load", Tick.INSTANCE, Duration.ofSeconds(1));
            return this;
        }
        loaded = true;
        long active = entries.values().stream().filter(e -> e.activeRollout().isPresent()).count();
        log.info("rollout manager on {} took over: {} models, {} active rollouts", node, entries.size(), active);
        timers.startTimerWithFixedDelay("tick", Tick.INSTANCE, settings.tickInterval());
        return stash.unstashAll(this);
    }

    private Behavior<Command> onChanged(Changed c) {
        if (c.response() instanceof Replicator.Changed<LWWMap<String, ModelEntry>> changed) {
            entries = new HashMap<>(changed.dataValue().getEntries());
        }
        return this;
    }

    private Behavior<Command> onReporters(Reporters r) {
        reporters = r.listing().getServiceInstances(StatsReporter.KEY);
        return this;
    }

    // ---- commands ----

    private void onDeploy(Deploy d) {
        ModelManifest m = d.manifest();
        write(m.model(), e -> Transitions.deploy(e, m), d.replyTo());
    }

    private void onUndeploy(Undeploy u) {
        write(u.model(), e -> Transitions.undeploy(e, u.model(), u.version()), u.replyTo());
    }

    private void onStart(Start s) {
        long now = System.currentTimeMillis();
        write(s.model(), e -> Transitions.start(e, s.model(), s.spec(), s.by(), node, now), s.replyTo());
        log.info("rollout of {} to {} ({}) requested by {}", s.model(), s.spec().to(), s.spec().strategy().wireName(),
                s.by());
    }

    private void onControl(Control c) {
        ModelEntry entry = entries.get(c.model());
        Optional<Rollout> active = entry == null ? Optional.empty() : entry.activeRollout();
        if (active.isEmpty()) {
            c.replyTo().tell(new Reply(entry == null ? Outcome.NOT_FOUND : Outcome.CONFLICT, entry == null
                    ? "model '" + c.model() + "' is not deployed"
                    : "model '" + c.model() + "' has no rollout in progress", entry == null ? null : entry.rollout()));
            return;
        }
        Rollout seen = active.get();
        long now = System.currentTimeMillis();
        UnaryOperator<ModelEntry> change = switch (c.action()) {
            case PAUSE -> e -> Transitions.pause(e, seen, c.by(), now);
            case RESUME -> e -> Transitions.resume(e, seen, c.by(), now);
            case ABORT -> e -> Transitions.rollBack(e, seen, "aborted by " + c.by(), now);
            case PROMOTE -> {
                Optional<String> notReady = notReady(entry, seen, true);
                if (notReady.isPresent()) {
                    c.replyTo().tell(new Reply(Outcome.CONFLICT, "cannot promote: " + notReady.get(), seen));
                    yield null;
                }
                yield e -> Transitions.complete(e, seen, "promoted by " + c.by() + " at step "
                        + (seen.step() + 1), now);
            }
        };
        if (change != null) {
            log.info("rollout of {}: {} by {}", c.model(), c.action(), c.by());
            write(c.model(), change, c.replyTo());
        }
    }

    // ---- writes ----

    private void write(String model, UnaryOperator<ModelEntry> change, ActorRef<Reply> replyTo) {
        AtomicReference<ModelEntry> result = new AtomicReference<>();
        replicator.askUpdate(askReplyTo -> new Replicator.Update<>(Catalog.KEY, LWWMap.create(),
                        new Replicator.WriteMajority(settings.writeTimeout()), askReplyTo, map -> {
                            ModelEntry current = map.get(model).getOrElse(() -> null);
                            ModelEntry next = change.apply(current);
                            result.set(next);
                            if (next == current) {
                                return map;
                            }
                            return next == null ? map.remove(self, model) : map.put(self, model, next);
                        }),
                response -> new Written(response, result, model, replyTo));
    }

    private Behavior<Command> onWritten(Written w) {
        ModelEntry next = w.result().get();
        Map<String, ModelEntry> updated = new HashMap<>(entries);
        Reply reply;
        if (w.response() instanceof Replicator.UpdateSuccess) {
            apply(updated, w.model(), next);
            reply = new Reply(Outcome.OK, "done", next == null ? null : next.rollout());
        } else if (w.response() instanceof Replicator.ModifyFailure<LWWMap<String, ModelEntry>> f) {
            Throwable cause = f.cause();
            reply = cause instanceof RolloutRefused refused
                    ? new Reply(refused.outcome(), refused.getMessage(), currentRollout(w.model()))
                    : new Reply(Outcome.INVALID, String.valueOf(cause), currentRollout(w.model()));
        } else if (w.response() instanceof Replicator.UpdateTimeout) {
            apply(updated, w.model(), next); // applied here; it spreads when a majority is reachable
            reply = new Reply(Outcome.UNAVAILABLE, "the change was not confirmed by a majority of nodes within "
                    + settings.writeTimeout().toSeconds() + " s; it is stored on the manager's node and spreads"
                    + " when they are reachable", next == null ? null : next.rollout());
        } else {
            reply = new Reply(Outcome.UNAVAILABLE, "the catalog change failed: " + w.response(),
                    currentRollout(w.model()));
        }
        entries = updated;
        if (w.replyTo() != null) {
            w.replyTo().tell(reply);
        } else if (!reply.ok() && reply.outcome() != Outcome.CONFLICT) {
            log.warn("rollout of {}: {}", w.model(), reply.message());
        }
        return this;
    }

    private static void apply(Map<String, ModelEntry> map, String model, ModelEntry next) {
        if (next == null) {
            map.remove(model);
        } else {
            map.put(model, next);
        }
    }

    private Rollout currentRollout(String model) {
        ModelEntry e = entries.get(model);
        return e == null ? null : e.rollout();
    }

    // ---- driving rollouts ----

    private Behavior<Command> onTick() {
        if (!loaded) {
            load();
            return this;
        }
        long now = System.currentTimeMillis();
        for (ModelEntry entry : List.copyOf(entries.values())) {
            Optional<Rollout> active = entry.activeRollout();
            if (active.isEmpty() || active.get().status() != Rollout.Status.RUNNING
                    || judging.contains(entry.model())) {
                continue;
            }
            Rollout r = active.get();
            if (r.step() < 0) {
                Optional<String> notReady = notReady(entry, r, r.spec().strategy() == RolloutSpec.Strategy.BLUE_GREEN);
                if (notReady.isEmpty()) {
                    write(entry.model(), e -> Transitions.advance(e, r, node, now, 0), null);
                } else if (now - r.stepStartedAtMillis() > settings.readyTimeout().toMillis()) {
                    write(entry.model(), e -> Transitions.rollBack(e, r, notReady.get() + " within "
                            + settings.readyTimeout().toSeconds() + " s", now), null);
                } else if (!notReady.get().equals(r.reason())) {
                    write(entry.model(), e -> Transitions.note(e, r, notReady.get(), now, 0), null);
                }
                continue;
            }
            judge(entry.model(), r);
        }
        return this;
    }

    /** Why {@code r}'s new version may not take traffic yet; empty when it may. */
    private Optional<String> notReady(ModelEntry entry, Rollout r, boolean everyReplica) {
        ModelManifest m = entry.versions().get(r.to());
        if (m == null) {
            return Optional.of("version " + r.to() + " is no longer deployed");
        }
        if (m.isEnsemble()) {
            return Optional.empty(); // no replicas of its own: its members are served (and rolled out) on their own
        }
        if (!m.isPipeline()) {
            return notReady(m, r.to(), everyReplica);
        }
        // a pipeline is ready when each of its stages is
        for (String stage : m.stageModels()) {
            ModelEntry stageEntry = entries.get(stage);
            ModelManifest sm = stageEntry == null ? null : stageEntry.versions().get(r.to());
            Optional<String> problem = sm == null ? Optional.of("stage " + stage + " of version " + r.to()
                    + " is not deployed") : notReady(sm, r.to() + " (stage " + stage + ")", everyReplica);
            if (problem.isPresent()) {
                return problem;
            }
        }
        return Optional.empty();
    }

    /** Why the replicas of one model version ({@code what}, for messages) may not take traffic yet. */
    private Optional<String> notReady(ModelManifest m, String what, boolean everyReplica) {
        int ready = 0;
        Set<String> nodes = new TreeSet<>();
        for (String id : m.replicaIds()) {
            Optional<ReplicaLocation> l = locations.get(id);
            if (l.isPresent() && l.get().ready()
                    && (l.get().address().equals(members.self()) || members.serving(l.get().address()))) {
                ready++;
                nodes.add(l.get().node());
            }
        }
        if (ready == 0 || (everyReplica && ready < m.replicas())) {
            return Optional.of("waiting for " + what + " to be ready: " + ready + " of " + m.replicas()
                    + " replicas ready");
        }
        return attestation.problem(m, nodes).map(p -> "waiting for " + what + " to be attested: " + p);
    }

    private void judge(String model, Rollout r) {
        judging.add(model);
        String oldKey = model + "@" + r.from();
        String newKey = model + "@" + r.to();
        List<CompletableFuture<StatsReporter.Report>> asks = new ArrayList<>();
        for (ActorRef<StatsReporter.Query> reporter : reporters) {
            asks.add(Stages.inline(AskPattern.<StatsReporter.Query, StatsReporter.Report>ask(reporter,
                            replyTo -> new StatsReporter.Query(List.of(oldKey, newKey), r.stepStartedAtMillis(), replyTo),
                            settings.statsTimeout(), ctx.getSystem().scheduler()))
                    .exceptionally(e -> null));
        }
        ctx.pipeToSelf(CompletableFuture.allOf(asks.toArray(new CompletableFuture[0])).thenApply(v -> {
            StatsSnapshot old = StatsSnapshot.empty();
            StatsSnapshot neu = StatsSnapshot.empty();
            for (CompletableFuture<StatsReporter.Report> f : asks) {
                StatsReporter.Report rep = f.join();
                if (rep != null) {
                    old = old.merge(rep.stats().getOrDefault(oldKey, StatsSnapshot.empty()));
                    neu = neu.merge(rep.stats().getOrDefault(newKey, StatsSnapshot.empty()));
                }
            }
            return new Judged(model, r, old, neu);
        }), (judged, error) -> judged != null ? judged
                : new Judged(model, r, StatsSnapshot.empty(), StatsSnapshot.empty()));
    }

    private Behavior<Command> onJudged(Judged j) {
        judging.remove(j.model());
        Rollout r = j.seen();
        long now = System.currentTimeMillis();
        boolean dwellOver = now - r.stepStartedAtMillis() >= r.spec().stepMillis();
        GateCheck.Verdict v = GateCheck.judge(r, j.old(), j.neu(), dwellOver, settings.p99Slack().toMillis());
        switch (v.kind()) {
            case FAIL -> {
                log.warn("rollout of {} to {} failed a gate at step {}: {}", j.model(), r.to(), r.step() + 1,
                        v.reason());
                write(j.model(), e -> Transitions.rollBack(e, r, v.reason(), now), null);
            }
            case PASS -> {
                log.info("rollout of {} to {}: {}", j.model(), r.to(), v.reason());
                write(j.model(), e -> Transitions.advance(e, r, node, now, v.oldP99Millis()), null);
            }
            case HOLD -> {
                if (dwellOver) {
                    write(j.model(), e -> Transitions.note(e, r, v.reason(), now, v.oldP99Millis()), null);
                }
            }
        }
        return this;
    }
}
