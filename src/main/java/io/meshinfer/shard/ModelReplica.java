package io.meshinfer.shard;

import io.meshinfer.api.ErrorKind;
import io.meshinfer.api.InferenceError;
import io.meshinfer.api.InferenceException;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.batching.BatchPolicy;
import io.meshinfer.batching.Batcher;
import io.meshinfer.batching.ResultSink;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.registry.ReplicaId;
import io.meshinfer.runtime.LoadedModel;
import io.meshinfer.runtime.ModelLoadException;
import io.meshinfer.runtime.ModelSignature;
import io.meshinfer.tensor.NamedTensor;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.StashBuffer;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.ShardingEnvelope;
import org.apache.pekko.cluster.sharding.typed.ShardingMessageExtractor;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.stream.Materializer;

/**
 * One replica of one model version ({@code model@version#replica}), a Cluster Sharding
 * entity. It loads its model as soon as it starts (the reconciler starts it on deploy, so
 * no request pays the load), validates each request against the signature, feeds it to
 * its {@link Batcher} and answers with a result or a typed error.
 *
 * <p>Life: LOADING (requests are stashed, up to the queue capacity) → SERVING → STOPPING
 * (on the sharding stop message: no new requests, in-flight ones finish, then the session
 * hold is released and the entity stops). A replica whose version is undeployed or scaled
 * away passivates itself. A failed load is retried after a pause; meanwhile requests are
 * answered {@code UNAVAILABLE} so the router tries another replica.
 */
public final class ModelReplica extends AbstractBehavior<ModelReplica.Command> {
    public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "ModelReplica");

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

    public record Answer(InferenceResponse response) implements Reply {
    }

    public record Failure(InferenceError error) implements Reply {
    }

    private record Loaded() implements Command, NoSerializationVerificationNeeded {
    }

    private record LoadFailed(String reason, boolean notFound) implements Command, NoSerializationVerificationNeeded {
    }

    private enum Tick implements Command, NoSerializationVerificationNeeded { INSTANCE }

    private enum Drained implements Command, NoSerializationVerificationNeeded { INSTANCE }

    private enum State { LOADING, SERVING, FAILED, RETIRING, STOPPING }

    private static final Duration TICK = Duration.ofSeconds(1);

    private final String entityId;
    private final ReplicaId id;
    private final ActorRef<ClusterSharding.ShardCommand> shard;
    private final ReplicaEnvironment env;
    private final Materializer materializer;
    private final StashBuffer<Command> stash;
    private final long startedNanos = System.nanoTime();
    private final AtomicBoolean alive = new AtomicBoolean(true);
    private final AtomicReference<LoadedModel> arriving = new AtomicReference<>();

    private State state = State.LOADING;
    private boolean loadInFlight;
    private long nextLoadNanos;
    private String failure = "";
    private LoadedModel model;
    private ModelSignature signature;
    private Batcher batcher;

    private ModelReplica(ActorContext<Command> ctx, String entityId, ActorRef<ClusterSharding.ShardCommand> shard,
                         ReplicaEnvironment env, StashBuffer<Command> stash, TimerScheduler<Command> timers) {
        super(ctx);
        this.entityId = entityId;
        this.id = ReplicaId.parse(entityId);
        this.shard = shard;
        this.env = env;
        this.stash = stash;
        this.materializer = Materializer.matFromSystem(ctx.getSystem());
        timers.startTimerWithFixedDelay(Tick.INSTANCE, TICK);
        publish(LocalReplicas.Status.LOADING, null);
        startLoad();
    }

    public static Behavior<Command> create(String entityId, ActorRef<ClusterSharding.ShardCommand> shard,
                                           ReplicaEnvironment env) {
        return Behaviors.setup(ctx -> Behaviors.withStash(env.defaults().queueCapacity(),
                stash -> Behaviors.withTimers(timers -> new ModelReplica(ctx, entityId, shard, env, stash, timers))));
    }

    /** Registers the entity type with Cluster Sharding on this node; one shard per replica. */
    public static void init(ActorSystem<?> system, ReplicaEnvironment env) {
        ClusterSharding.get(system).init(Entity.of(TYPE_KEY,
                        ctx -> create(ctx.getEntityId(), ctx.getShard(), env))
                .withStopMessage(Stop.INSTANCE)
                .withMessageExtractor(new OneShardPerEntity()));
    }

    /** Sharding for a node that routes to replicas but hosts none (a client-only member). */
    public static void initProxy(ActorSystem<?> system, String role) {
        ClusterSharding.get(system).init(Entity.of(TYPE_KEY, ctx -> Behaviors.<Command>empty())
                .withRole(role)
                .withMessageExtractor(new OneShardPerEntity()));
    }

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
        InferenceRequest req = cmd.request();
        ModelSignature.Prepared prepared;
        try {
            prepared = signature.prepare(req.inputs(), req.outputs(), env.maxRequestBytes());
        } catch (InferenceException e) {
            cmd.replyTo().tell(new Failure(e.toError()));
            return;
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(req.timeoutMillis());
        ActorRef<Reply> replyTo = cmd.replyTo();
        batcher.submit(prepared, deadline, new ResultSink() {
            @Override
            public void success(List<NamedTensor> outputs, int batchRows, long queueNanos) {
                replyTo.tell(new Answer(new InferenceResponse(req.id(), id.model(), id.version(), outputs,
                        env.nodeName(), env.region(), batchRows, false)));
            }

            @Override
            public void failure(InferenceError error) {
                replyTo.tell(new Failure(error));
            }
        });
    }

    private static void reply(Infer cmd, ErrorKind kind, String message) {
        cmd.replyTo().tell(new Failure(new InferenceError(kind, message)));
    }

    private void startLoad() {
        Optional<ModelManifest> manifest = env.catalog().manifest(id.model(), id.version());
        if (manifest.isEmpty()) {
            if (System.nanoTime() - startedNanos > env.manifestWait().toNanos()) {
                getContext().getSelf().tell(new LoadFailed("version '" + id.version() + "' of model '"
                        + id.model() + "' is not deployed", true));
            }
            return; // the catalog may not have reached this node yet: the next tick retries
        }
        ModelManifest m = manifest.get();
        loadInFlight = true;
        CompletableFuture.supplyAsync(() -> acquire(m), env.blocking()).whenComplete((loaded, error) -> {
            if (error != null) {
                Throwable cause = error instanceof CompletionException && error.getCause() != null
                        ? error.getCause() : error;
                getContext().getSelf().tell(new LoadFailed(cause.getMessage(), false));
                return;
            }
            arriving.set(loaded);
            if (!alive.get()) {
                releaseArriving();
            } else {
                getContext().getSelf().tell(new Loaded());
            }
        });
    }

    private LoadedModel acquire(ModelManifest m) {
        try {
            Optional<Path> file = env.store().verifiedPath(m.sha256());
            if (file.isEmpty()) {
                throw new CompletionException(new ModelLoadException(
                        "the artifact " + m.sha256() + " is not on this node"));
            }
            return env.runtime().acquire(m.sha256(), file.get());
        } catch (IOException | ModelLoadException e) {
            throw new CompletionException(e);
        }
    }

    private void releaseArriving() {
        LoadedModel m = arriving.getAndSet(null);
        if (m != null) {
            env.runtime().release(m);
        }
    }

    private Behavior<Command> onLoaded(Loaded msg) {
        loadInFlight = false;
        LoadedModel m = arriving.getAndSet(null);
        if (m == null) {
            return this;
        }
        if (state != State.LOADING && state != State.FAILED) {
            env.runtime().release(m);
            return this;
        }
        ModelManifest manifest = env.catalog().manifest(id.model(), id.version()).orElse(null);
        BatchPolicy policy = manifest == null ? env.defaults()
                : env.defaults().withOverrides(manifest.maxBatch(), manifest.maxDelayMillis());
        model = m;
        signature = m.signature();
        batcher = Batcher.start(entityId, m, policy, env.blocking(), materializer);
        state = State.SERVING;
        publish(LocalReplicas.Status.READY, null);
        getContext().getLog().info("replica {} ready (batchable: {}, max batch {})", entityId,
                signature.batchable(), policy.maxBatch());
        return stash.unstashAll(this);
    }

    private Behavior<Command> onLoadFailed(LoadFailed msg) {
        loadInFlight = false;
        if (state != State.LOADING && state != State.FAILED) {
            return this;
        }
        if (msg.notFound()) {
            retire();
            return this;
        }
        failure = msg.reason();
        state = State.FAILED;
        nextLoadNanos = System.nanoTime() + env.retryLoadAfter().toNanos();
        publish(LocalReplicas.Status.FAILED, failure);
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
                    startLoad();
                }
            }
            case SERVING -> {
                if (!deployed) {
                    retire();
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
        shard.tell(new ClusterSharding.Passivate<>(getContext().getSelf()));
    }

    private Behavior<Command> onStop(Stop s) {
        failStashed(ErrorKind.UNAVAILABLE, "replica " + entityId + " is stopping");
        if (batcher == null) {
            return Behaviors.stopped();
        }
        state = State.STOPPING;
        publish(LocalReplicas.Status.STOPPING, null);
        batcher.drain().whenComplete((done, error) -> getContext().getSelf().tell(Drained.INSTANCE));
        return this;
    }

    private Behavior<Command> onDrained(Drained d) {
        return Behaviors.stopped();
    }

    private Behavior<Command> onPostStop(PostStop signal) {
        alive.set(false);
        releaseArriving();
        env.local().remove(entityId);
        if (batcher != null) {
            LoadedModel m = model;
            batcher.drain().whenComplete((done, error) -> env.runtime().release(m));
            batcher = null;
            model = null;
        }
        return this;
    }

    private void failStashed(ErrorKind kind, String message) {
        stash.forEach(cmd -> {
            if (cmd instanceof Infer infer) {
                reply(infer, kind, message);
            }
        });
        stash.clear();
    }

    private void publish(LocalReplicas.Status status, String detail) {
        env.local().put(new LocalReplicas.Entry(entityId, id.model(), id.version(), status, batcher, detail));
    }
}
