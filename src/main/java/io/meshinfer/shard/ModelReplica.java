package io.meshinfer.shard;

import io.meshinfer.api.ErrorKind;
import io.meshinfer.api.InferenceError;
import io.meshinfer.api.InferenceException;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.RequestMdc;
import io.meshinfer.api.Stages;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.registry.ReplicaId;
import io.meshinfer.security.AuditLog;
import io.meshinfer.security.AuditRecord;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Locale;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.StashBuffer;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.ShardCoordinator;
import org.apache.pekko.cluster.sharding.typed.ShardingEnvelope;
import org.apache.pekko.cluster.sharding.typed.ShardingMessageExtractor;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;

/**
 * One replica of one model version ({@code model@version#replica}), a Cluster Sharding
 * entity: the cluster's handle on a {@link PooledReplica} in this node's
 * {@link ReplicaPool}. It loads (attaches) as soon as it starts, publishes where it runs
 * and whether it is ready, and answers {@link Infer} with a result or a typed error.
 *
 * <p>Life: LOADING (requests are stashed, up to the queue capacity) → SERVING → STOPPING
 * (on the sharding stop message: no new requests, in-flight ones finish, the pool releases
 * the model, the entity stops). A replica whose version is undeployed or scaled away
 * passivates itself. A failed load is retried after a pause; meanwhile requests are
 * answered {@code UNAVAILABLE} so the router tries another replica. When the cluster downs
 * this node the pooled replica is orphaned instead of released, so island mode can keep
 * serving from it. A request that entered the cluster at another node is audited here as
 * well ({@code serve}), with the principal it carries, and served in a trace span of this
 * node's own, a child of the entry node's ({@link io.meshinfer.api.TraceContext#child()}).
 */
public final class ModelReplica extends AbstractBehavior<ModelReplica.Command> {
    public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "ModelReplica");
    /** For callbacks on model-run threads, where the actor's own context logger must not be used. */
    private static final org.slf4j.Logger runLog = org.slf4j.LoggerFactory.getLogger(ModelReplica.class);

    public sealed interface Command {
    }

    /** Serve one request; the answer goes to {@code replyTo}. */
    public record Infer(InferenceRequest request, ActorRef<Reply> replyTo) implements Command {
    }

    /** Start (and so load) this replica if it is not running; otherwise nothing. */
    public enum Wake implements Command { INSTANCE }

    /** Stop taking requests, finish those in flight, release the model and stop. */
    public enum Stop implements Command { INSTANCE }

    /** The terminal answer to an {@link Infer}. */
    public sealed interface Reply {
    }

    public record Answer(io.meshinfer.api.InferenceResponse response) implements Reply {
    }

    public record Failure(InferenceError error) implements Reply {
    }

    private record Loaded(PooledReplica replica) implements Command, NoSerializationVerificationNeeded {
    }

    private record LoadFailed(String reason) implements Command, NoSerializationVerificationNeeded {
    }

    private enum Tick implements Command, NoSerializationVerificationNeeded { INSTANCE }

    private enum Drained implements Command, NoSerializationVerificationNeeded { INSTANCE }

    private enum Lingered implements Command, NoSerializationVerificationNeeded { INSTANCE }

    private enum State { LOADING, SERVING, FAILED, RETIRING, STOPPING }

    private static final Duration TICK = Duration.ofSeconds(1);
    private static final int REPUBLISH_EVERY_TICKS = 5;

    private final String entityId;
    private final ReplicaId id;
    private final ActorRef<ClusterSharding.ShardCommand> shard;
    private final ReplicaEnvironment env;
    private final StashBuffer<Command> stash;
    private final TimerScheduler<Command> timers;
    private final long startedNanos = System.nanoTime();

    private State state = State.LOADING;
    private boolean loadInFlight;
    private boolean detached;
    private long ticks;
    private long nextLoadNanos;
    private String failure = "";
    private PooledReplica replica;

    private ModelReplica(ActorContext<Command> ctx, String entityId, ActorRef<ClusterSharding.ShardCommand> shard,
                         ReplicaEnvironment env, StashBuffer<Command> stash, TimerScheduler<Command> timers) {
        super(ctx);
        this.entityId = entityId;
        this.id = ReplicaId.parse(entityId);
        this.shard = shard;
        this.env = env;
        this.stash = stash;
        this.timers = timers;
        timers.startTimerWithFixedDelay(Tick.INSTANCE, TICK);
        publish(false);
        startLoad();
    }

    public static Behavior<Command> create(String entityId, ActorRef<ClusterSharding.ShardCommand> shard,
                                           ReplicaEnvironment env) {
        return Behaviors.setup(ctx -> Behaviors.withStash(env.pool().defaults().queueCapacity(),
                stash -> Behaviors.withTimers(timers -> new ModelReplica(ctx, entityId, shard, env, stash, timers))));
    }

    /** Registers the entity type with Cluster Sharding on this node; one shard per replica. */
    public static void init(ActorSystem<?> system, ReplicaEnvironment env,
                            ShardCoordinator.ShardAllocationStrategy placement) {
        ClusterSharding.get(system).init(Entity.of(TYPE_KEY,
                        ctx -> create(ctx.getEntityId(), ctx.getShard(), env))
                .withStopMessage(Stop.INSTANCE)
                .withRole(REPLICA_HOST_ROLE)
                .withAllocationStrategy(placement)
                .withMessageExtractor(new OneShardPerEntity()));
    }

    /** Sharding for a member that routes to replicas but hosts none (a client-only member). */
    public static void initProxy(ActorSystem<?> system) {
        ClusterSharding.get(system).init(Entity.of(TYPE_KEY, ctx -> Behaviors.<Command>empty())
                .withRole(REPLICA_HOST_ROLE)
                .withMessageExtractor(new OneShardPerEntity()));
    }

    /** The role of members that host replicas. */
    public static final String REPLICA_HOST_ROLE = "replica-host";

    /** Each replica is its own shard, so placement decides per replica. */
    static final class OneShardPerEntity extends ShardingMessageExtractor<ShardingEnvelope<Command>, Command> {
        @Override
        public String entityId(ShardingEnvelope<Command> envelope) {
            return envelope.entityId();
        }

        @Override
        public String shardId(String entityId) {
            return entityId;
        }

        @Override
        public Command unwrapMessage(ShardingEnvelope<Command> envelope) {
            return envelope.message();
        }
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Infer.class, this::onInfer)
                .onMessage(Wake.class, w -> this)
                .onMessage(Loaded.class, this::onLoaded)
                .onMessage(LoadFailed.class, this::onLoadFailed)
                .onMessage(Tick.class, this::onTick)
                .onMessage(Stop.class, this::onStop)
                .onMessage(Drained.class, this::onDrained)
                .onMessage(Lingered.class, l -> Behaviors.stopped())
                .onSignal(PostStop.class, this::onPostStop)
                .build();
    }

    private Behavior<Command> onInfer(Infer cmd) {
        switch (state) {
            case LOADING -> {
                if (stash.isFull()) {
                    reply(cmd, ErrorKind.OVERLOADED, "replica " + entityId + " is still loading and has "
                            + stash.size() + " requests waiting");
                } else {
                    stash.stash(cmd);
                }
            }
            case SERVING -> serve(cmd);
            case FAILED -> reply(cmd, ErrorKind.UNAVAILABLE, "replica " + entityId + " cannot serve: " + failure);
            case RETIRING -> reply(cmd, ErrorKind.MODEL_NOT_FOUND, "version '" + id.version() + "' of model '"
                    + id.model() + "' is no longer deployed");
            case STOPPING -> reply(cmd, ErrorKind.UNAVAILABLE, "replica " + entityId + " is stopping");
        }
        return this;
    }

    private void serve(Infer cmd) {
        ActorRef<Reply> replyTo = cmd.replyTo();
        // a request that entered at another node is audited here too: this node processed its data
        boolean remote = replyTo.path().address().hasGlobalScope();
        AuditLog audit = env.pool().place().audit();
        AuditLog.Ticket ticket = remote ? audit.reserve() : null;
        if (remote && ticket == null) {
            reply(cmd, ErrorKind.UNAVAILABLE, "replica " + entityId + ": " + audit.refusal());
            return;
        }
        // a hop to another node is a span of its own, child of the entry node's
        InferenceRequest request = remote ? cmd.request().withTrace(cmd.request().trace().child()) : cmd.request();
        if (remote && runLog.isDebugEnabled()) {
            RequestMdc.run(request, () -> runLog.debug("replica {} serves a request that entered at {}", entityId,
                    replyTo.path().address()));
        }
        long start = System.nanoTime();
        Stages.onDone(replica.serve(request, false), (response, error) -> {
            if (ticket != null) {
                ticket.write(serveRecord(request, error, start, audit.enabled()));
            }
            if (error != null) {
                fail(replyTo, request, error);
                return;
            }
            if (!remote) {
                replyTo.tell(new Answer(response));
                return;
            }
            // a pipeline stage asked for by another node: the next stages go on from here
            CompletionStage<io.meshinfer.api.InferenceResponse> next;
            try {
                next = env.continuation().after(request, response, System.nanoTime() - start);
            } catch (RuntimeException e) {
                next = java.util.concurrent.CompletableFuture.failedFuture(e);
            }
            Stages.onDone(next, (answer, failure) -> {
                if (failure != null) {
                    fail(replyTo, request, failure);
                } else {
                    answerRemote(replyTo, answer);
                }
            });
        });
    }

    /** Answers a caller on another node, through its node's relay when the answer is too large for the ordinary channel. */
    private void answerRemote(ActorRef<Reply> replyTo, io.meshinfer.api.InferenceResponse response) {
        LargeMessages large = env.large();
        long bytes = LargeMessages.bytes(response.outputs());
        if (bytes <= large.ordinaryLimit()) {
            replyTo.tell(new Answer(response));
        } else if (bytes <= large.largeLimit()) {
            large.relayAt(replyTo.path().address().toString()).tell(new LargeMessages.Forward(replyTo,
                    new Answer(response)));
        } else {
            replyTo.tell(new Failure(new InferenceError(ErrorKind.INTERNAL, "the answer of replica " + entityId
                    + " holds " + bytes + " tensor bytes, more than may travel between nodes (" + large.largeLimit()
                    + ", meshinfer.transport.max-large-message less 32 KiB); ask a node that holds a replica")));
        }
    }

    private void fail(ActorRef<Reply> replyTo, InferenceRequest request, Throwable error) {
        Throwable cause = error;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        Throwable reported = cause;
        if (!(cause instanceof InferenceException)) {
            RequestMdc.run(request, () -> runLog.warn("replica {} failed on a request: {}",
                    entityId, reported.toString()));
        }
        replyTo.tell(new Failure(cause instanceof InferenceException ie ? ie.toError()
                : new InferenceError(ErrorKind.INTERNAL, "replica " + entityId + " failed: " + cause)));
    }

    private AuditRecord serveRecord(InferenceRequest request, Throwable error, long startNanos, boolean kept) {
        PooledReplica.Place place = env.pool().place();
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        String outcome = cause == null ? "ok" : cause instanceof InferenceException ie
                ? ie.kind().name().toLowerCase(Locale.ROOT) : "internal";
        io.meshinfer.api.TraceContext t = kept ? request.trace() : null;
        return new AuditRecord(Instant.now(), request.id(),
                request.principal() == null ? null : request.principal().subject(), "serve", id.model(), id.version(),
                place.node(), place.region(), new ArrayList<>(new TreeSet<>(request.residency())),
                outcome, (System.nanoTime() - startNanos) / 1e6, "cluster", null,
                t == null ? null : t.traceId(), t == null ? null : t.spanIdHex(), t == null ? null : t.parentSpanIdHex());
    }

    private static void reply(Infer cmd, ErrorKind kind, String message) {
        cmd.replyTo().tell(new Failure(new InferenceError(kind, message)));
    }

    private void startLoad() {
        Optional<ModelManifest> manifest = env.catalog().manifest(id.model(), id.version());
        if (manifest.isEmpty()) {
            if (System.nanoTime() - startedNanos > env.manifestWait().toNanos()) {
                retire();
            }
            return; // the catalog may not have reached this node yet: the next tick retries
        }
        ModelManifest m = manifest.get();
        String region = env.pool().place().region();
        if (!m.regions().isEmpty() && !m.regions().contains(region)) {
            getContext().getSelf().tell(new LoadFailed("its placement allows regions " + m.regions()
                    + ", not this node's region " + region));
            return;
        }
        loadInFlight = true;
        getContext().pipeToSelf(env.pool().attach(entityId, m, env.peers()), (loaded, error) -> {
            if (error != null) {
                Throwable cause = error instanceof CompletionException && error.getCause() != null
                        ? error.getCause() : error;
                return new LoadFailed(String.valueOf(cause.getMessage()));
            }
            return new Loaded(loaded);
        });
    }

    private Behavior<Command> onLoaded(Loaded msg) {
        loadInFlight = false;
        if (state != State.LOADING && state != State.FAILED) {
            return this; // stopping: PostStop detaches what the pool loaded
        }
        replica = msg.replica();
        state = State.SERVING;
        publish(true);
        getContext().getLog().info("replica {} ready (batchable: {}, max batch {})", entityId,
                replica.model().signature().batchable(), replica.batcher().policy().maxBatch());
        return stash.unstashAll(this);
    }

    private Behavior<Command> onLoadFailed(LoadFailed msg) {
        loadInFlight = false;
        if (state != State.LOADING && state != State.FAILED) {
            return this;
        }
        failure = msg.reason();
        state = State.FAILED;
        nextLoadNanos = System.nanoTime() + env.retryLoadAfter().toNanos();
        getContext().getLog().warn("replica {} could not load its model: {}", entityId, failure);
        failStashed(ErrorKind.UNAVAILABLE, "replica " + entityId + " cannot serve: " + failure);
        return this;
    }

    private Behavior<Command> onTick(Tick t) {
        Optional<ModelManifest> manifest = env.catalog().manifest(id.model(), id.version());
        boolean deployed = manifest.isPresent() && id.replica() < manifest.get().replicas();
        switch (state) {
            case LOADING -> {
                if (!loadInFlight) {
                    startLoad();
                }
            }
            case FAILED -> {
                if (!deployed) {
                    retire();
                } else if (!loadInFlight && System.nanoTime() - nextLoadNanos > 0) {
                    state = State.LOADING;
                    startLoad();
                }
            }
            case SERVING -> {
                if (!deployed) {
                    retire();
                } else if (++ticks % REPUBLISH_EVERY_TICKS == 0) {
                    publish(true); // heals an entry lost to a prune or a race with a withdrawal
                }
            }
            default -> {
            }
        }
        return this;
    }

    /** The version is gone (or this replica was scaled away): ask sharding to stop us. */
    private void retire() {
        if (state == State.RETIRING || state == State.STOPPING) {
            return;
        }
        getContext().getLog().info("replica {} is no longer deployed; stopping", entityId);
        failStashed(ErrorKind.MODEL_NOT_FOUND, "version '" + id.version() + "' of model '" + id.model()
                + "' is not deployed");
        state = State.RETIRING;
        env.locations().tell(new ReplicaLocations.Withdraw(entityId, env.selfAddress()));
        shard.tell(new ClusterSharding.Passivate<>(getContext().getSelf()));
    }

    private Behavior<Command> onStop(Stop s) {
        failStashed(ErrorKind.UNAVAILABLE, "replica " + entityId + " is stopping");
        env.locations().tell(new ReplicaLocations.Withdraw(entityId, env.selfAddress()));
        if (cutOffShutdown()) {
            return Behaviors.stopped(); // PostStop orphans the pooled replica for island mode
        }
        state = State.STOPPING;
        detached = true;
        getContext().pipeToSelf(env.pool().detach(entityId, true), (ok, error) -> Drained.INSTANCE);
        return this;
    }

    /**
     * Drained: stay a moment longer, answering UNAVAILABLE (which routers retry elsewhere),
     * so routers that still address this actor directly learn it withdrew before it is gone.
     */
    private Behavior<Command> onDrained(Drained d) {
        if (env.linger().isZero()) {
            return Behaviors.stopped();
        }
        timers.startSingleTimer(Lingered.INSTANCE, env.linger());
        return this;
    }

    private Behavior<Command> onPostStop(PostStop signal) {
        if (!detached) {
            // stopped by its shard region or its actor system, not handed off (onStop detached
            // that): unless the node is leaving gracefully, the pooled replica stays loaded as an
            // orphan, which island mode serves and the node releases if no entity adopts it within
            // meshinfer.node.orphan-grace. The region stops the moment this node sees itself
            // downed, which can be before the cluster's own view of this member says Down, so the
            // member status cannot decide this (a downed node must not drop its replicas).
            detached = true;
            Optional<CoordinatedShutdown.Reason> reason = shutdownReason();
            boolean release = reason.isPresent() && GracefulLeave.isLeaving(reason.get());
            env.pool().detach(entityId, release);
            if (release || reason.isEmpty()) {
                env.locations().tell(new ReplicaLocations.Withdraw(entityId, env.selfAddress()));
            }
        }
        return this;
    }

    private Optional<CoordinatedShutdown.Reason> shutdownReason() {
        return CoordinatedShutdown.get(Adapter.toClassic(getContext().getSystem())).getShutdownReason();
    }

    /**
     * On a hand-off: whether this node's actor system is going down for a reason other than a
     * graceful leave (the cluster downed or removed it); then the pooled replica is kept for
     * island mode rather than released. A hand-off while the node is a member releases it.
     */
    private boolean cutOffShutdown() {
        Optional<CoordinatedShutdown.Reason> reason = shutdownReason();
        if (reason.isPresent()) {
            return !GracefulLeave.isLeaving(reason.get());
        }
        return org.apache.pekko.cluster.Cluster.get(Adapter.toClassic(getContext().getSystem())).selfMember()
                .status().equals(org.apache.pekko.cluster.MemberStatus.down());
    }

    private void failStashed(ErrorKind kind, String message) {
        stash.forEach(cmd -> {
            if (cmd instanceof Infer infer) {
                reply(infer, kind, message);
            }
        });
        stash.clear();
    }

    private void publish(boolean ready) {
        PooledReplica.Place place = env.pool().place();
        env.locations().tell(new ReplicaLocations.Publish(new ReplicaLocation(entityId, id.model(), id.version(),
                id.replica(), place.node(), env.selfAddress(), place.region(), place.zone(), ready,
                System.currentTimeMillis(), getContext().getSelf())));
    }
}
