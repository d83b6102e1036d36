package io.meshinfer.routing;

import io.meshinfer.api.ErrorKind;
import io.meshinfer.api.InferenceException;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.api.RequestMdc;
import io.meshinfer.api.Stages;
import io.meshinfer.registry.CatalogView;
import io.meshinfer.registry.ModelEntry;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.rollout.OutputComparison;
import io.meshinfer.rollout.Rollout;
import io.meshinfer.rollout.RolloutSpec;
import io.meshinfer.rollout.VersionStats;
import io.meshinfer.runtime.ModelSignature;
import io.meshinfer.shard.ModelReplica;
import io.meshinfer.shard.PooledReplica;
import io.meshinfer.shard.ReplicaLocation;
import io.meshinfer.shard.ReplicaLocationView;
import io.meshinfer.shard.ReplicaPool;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Scheduler;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;

/**
 * Routes requests to model replicas from this node's local, replicated state (catalog,
 * published replica locations, membership): no singleton on the request path.
 *
 * <p>For each request it picks the version (the request's pin, or the routing weights),
 * validates the inputs against that version's signature (bad requests never cross the
 * network), then picks a replica:
 * <ul>
 *   <li><b>residency</b>: only replicas in the request's allowed regions, never as a
 *       fallback elsewhere (and the replica checks again where the data would be processed);
 *       none live gives {@code RESIDENCY_VIOLATION} or {@code UNAVAILABLE};</li>
 *   <li><b>locality</b>: this node, then this zone, then this region, then anywhere (the
 *       nearest tier is left for farther ones when it has {@code localitySpill} requests in
 *       flight);</li>
 *   <li><b>load</b>: power of two choices by this node's in-flight counts.</li>
 * </ul>
 * A replica on this node is called directly, without an actor hop. An
 * {@code OVERLOADED} or {@code UNAVAILABLE} answer, or the replica's node becoming
 * unreachable, is retried on another replica while the deadline allows. Every call
 * completes exactly once. Thread-safe.
 */
public final class Router implements InferenceService {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Router.class);

    /** This node: where "local" is. */
    public record Self(String address, String node, String region, String zone) {
    }

    private final ClusterSharding sharding;
    private final Scheduler scheduler;
    private final CatalogView catalog;
    private final ReplicaLocationView locations;
    private final MembershipView members;
    private final ReplicaPool pool;
    private final Self self;
    private final RouterSettings settings;
    private final java.util.function.BooleanSupplier catalogKnown;
    private final VersionStats stats;
    private final int mirrorMaxInFlight;
    private final AtomicInteger mirrorsInFlight = new AtomicInteger();
    private final java.util.concurrent.atomic.LongAdder mirrorsDropped = new java.util.concurrent.atomic.LongAdder();
    private final Map<String, AtomicInteger> inFlight = new ConcurrentHashMap<>();
    private final Map<String, Set<CompletableFuture<ModelReplica.Reply>>> pendingByNode = new ConcurrentHashMap<>();
    private final io.meshinfer.shard.LargeMessages large;

    /**
     * @param pool this node's replicas, for direct local calls; null on a member that hosts none
     * @param catalogKnown whether this node has read the catalog (before that, an unknown
     *     model is UNAVAILABLE, not MODEL_NOT_FOUND)
     */
    public Router(ActorSystem<?> system, CatalogView catalog, ReplicaLocationView locations, MembershipView members,
                  ReplicaPool pool, Self self, RouterSettings settings, java.util.function.BooleanSupplier catalogKnown,
                  VersionStats stats, int mirrorMaxInFlight, io.meshinfer.shard.LargeMessages large) {
        this.large = large;
        this.catalogKnown = catalogKnown;
        this.stats = stats;
        this.mirrorMaxInFlight = mirrorMaxInFlight;
        this.sharding = ClusterSharding.get(system);
        this.scheduler = system.scheduler();
        this.catalog = catalog;
        this.locations = locations;
        this.members = members;
        this.pool = pool;
        this.self = self;
        this.settings = settings;
        members.onMemberLost(this::failPendingOn);
    }

    public RouterSettings settings() {
        return settings;
    }

    public CatalogView catalog() {
        return catalog;
    }

    /** Requests this node has sent to {@code replicaId} and not yet had answered. */
    public int inFlight(String replicaId) {
        AtomicInteger n = inFlight.get(replicaId);
        return n == null ? 0 : n.get();
    }

    @Override
    public CompletionStage<InferenceResponse> infer(InferenceRequest request) {
        ModelManifest manifest;
        ModelSignature.Prepared prepared;
        ModelEntry entry = catalog.model(request.model()).orElse(null);
        Rollout rollout = entry == null ? null : entry.rollout();
        String tracked = null;
        long start = System.nanoTime();
        try {
            manifest = resolve(catalog, request);
            if (rollout != null && rollout.active() && rollout.model().equals(manifest.model())
                    && (manifest.version().equals(rollout.from()) || manifest.version().equals(rollout.to()))) {
                tracked = manifest.key();
            }
            prepared = manifest.signature().prepare(request.inputs(), request.outputs(), settings.maxRequestBytes());
        } catch (InferenceException.ModelNotFound e) {
            return CompletableFuture.failedFuture(catalogKnown.getAsBoolean() ? e
                    : new InferenceException.Unavailable("this node has not read the catalog from its cluster yet"));
        } catch (InferenceException e) {
            if (tracked != null) {
                stats.record(tracked, System.nanoTime() - start, true);
            }
            return CompletableFuture.failedFuture(e);
        }
        long budget = Math.min(request.timeoutMillis(), settings.maxTimeout().toMillis());
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(budget);
        CompletableFuture<InferenceResponse> result = new CompletableFuture<>();
        // the replicas tried so far: a handful at most (meshinfer.routing.max-attempts), so a list
        attempt(request, prepared, manifest, deadline, new ArrayList<>(2), 1, null, result);
        if (tracked != null) {
            track(request, manifest, rollout, start, result, this);
        }
        return result;
    }

    /**
     * Records a request to a version in a rollout that this router did not route itself (a
     * pipeline, chained by the node outside the router), as {@link #infer} records its own:
     * its latency and outcome feed the rollout's gates, and a share of the old version's
     * unpinned answers is mirrored to the new version through {@code via}. Does nothing
     * when {@code manifest}'s model has no rollout of that version in progress.
     */
    public void trackRollout(InferenceRequest request, ModelManifest manifest, long startNanos,
                             CompletionStage<InferenceResponse> result, InferenceService via) {
        Rollout rollout = catalog.model(manifest.model()).map(ModelEntry::rollout).orElse(null);
        if (rollout != null && rollout.active() && rollout.model().equals(manifest.model())
                && (manifest.version().equals(rollout.from()) || manifest.version().equals(rollout.to()))) {
            track(request, manifest, rollout, startNanos, result, via);
        }
    }

    private void track(InferenceRequest request, ModelManifest manifest, Rollout rollout, long startNanos,
                       CompletionStage<InferenceResponse> result, InferenceService via) {
        String key = manifest.key();
        boolean mirror = request.version() == null && manifest.version().equals(rollout.from())
                && ThreadLocalRandom.current().nextDouble() < rollout.mirrorFraction();
        Stages.onDone(result, (response, error) -> {
            stats.record(key, System.nanoTime() - startNanos, error != null && countsAgainstVersion(error));
            if (mirror && error == null) {
                mirror(request, response, rollout, via);
            }
        });
    }

    /** Whether a failure says something about the version (not about where the caller may be served). */
    private static boolean countsAgainstVersion(Throwable error) {
        Throwable cause = error;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return !(cause instanceof InferenceException ie) || (ie.kind() != ErrorKind.RESIDENCY_VIOLATION
                && ie.kind() != ErrorKind.MODEL_NOT_FOUND);
    }

    /**
     * Sends a copy of an answered request to the rollout's new version and records whether
     * its answer agrees with the one the caller got; the copy's answer is never returned.
     * At most {@code mirrorMaxInFlight} copies are in flight on this node; more are dropped.
     */
    private void mirror(InferenceRequest request, InferenceResponse served, Rollout rollout, InferenceService via) {
        if (mirrorsInFlight.incrementAndGet() > mirrorMaxInFlight) {
            mirrorsInFlight.decrementAndGet();
            mirrorsDropped.increment();
            return;
        }
        InferenceRequest copy = new InferenceRequest(request.id() + "-shadow", request.model(), rollout.to(),
                request.inputs(), request.outputs(), request.timeoutMillis(), request.residency(), null,
                request.principal(), request.trace().child());
        String key = rollout.model() + "@" + rollout.to();
        RolloutSpec.Gates gates = rollout.spec().gates();
        Stages.onDone(via.infer(copy), (response, error) -> {
            mirrorsInFlight.decrementAndGet();
            if (error == null) {
                OutputComparison c = OutputComparison.of(served, response,
                        gates.maxAbsDiff() != null ? gates.maxAbsDiff() : OutputComparison.DEFAULT_TOLERANCE);
                stats.recordComparison(key, c.agreed(), c.maxAbsDiff());
            }
        });
    }

    /** Mirrored copies dropped because too many were in flight on this node. */
    public long mirrorsDropped() {
        return mirrorsDropped.sum();
    }

    /** The manifest a request goes to. @throws InferenceException if there is none */
    public static ModelManifest resolve(CatalogView catalog, InferenceRequest request) {
        ModelEntry entry = catalog.model(request.model()).orElseThrow(() ->
                new InferenceException.ModelNotFound("model '" + request.model() + "' is not deployed"));
        if (request.version() != null) {
            return entry.version(request.version()).orElseThrow(() -> new InferenceException.ModelNotFound(
                    "version '" + request.version() + "' of model '" + request.model() + "' is not deployed"
                            + " (deployed: " + entry.versions().keySet().stream().sorted()
                            .collect(Collectors.joining(", ")) + ")"));
        }
        return entry.pickVersion(request.routingKey()).orElseThrow(() -> new InferenceException.Unavailable(
                "no version of model '" + request.model() + "' takes unpinned traffic; pin a version"));
    }

    /**
     * A replica chosen for one attempt; {@code address} is null when its location is unknown.
     * {@code entity} is the replica actor to ask directly (null: ask through sharding);
     * {@code relayTarget} the one a large request is relayed to (also set while it loads).
     */
    private record Choice(String entityId, String address, ActorRef<ModelReplica.Command> entity,
                          ActorRef<ModelReplica.Command> relayTarget) {
    }

    /** Pause before a large request looks again for a replica whose location has been published. */
    private static final long LOCATION_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private void attempt(InferenceRequest request, ModelSignature.Prepared prepared, ModelManifest manifest,
                         long deadline, List<String> tried,
                         int attemptNo, InferenceException lastError, CompletableFuture<InferenceResponse> result) {
        long remainingNanos = deadline - System.nanoTime();
        if (remainingNanos <= 0) {
            result.completeExceptionally(lastError != null ? lastError : new InferenceException.DeadlineExceeded(
                    "the deadline passed before a replica of " + manifest.key() + " answered"));
            return;
        }
        Choice choice = choose(manifest, request.residency(), tried);
        if (choice == null) {
            result.completeExceptionally(lastError != null ? lastError : noReplica(manifest, request));
            return;
        }
        if (choice.relayTarget() == null && !self.address().equals(choice.address())
                && io.meshinfer.shard.LargeMessages.bytes(request.inputs()) > large.ordinaryLimit()) {
            // a large request goes through the relay of its replica's node, so it waits for a
            // replica whose location this node has seen (just deployed, or moved)
            if (remainingNanos > LOCATION_WAIT_NANOS) {
                Stages.later(LOCATION_WAIT_NANOS, () ->
                        attempt(request, prepared, manifest, deadline, tried, attemptNo, lastError, result));
            } else {
                result.completeExceptionally(lastError != null ? lastError : new InferenceException.Unavailable(
                        "no replica of " + manifest.key() + " has published where it runs, which a request larger"
                                + " than Artery's ordinary frame needs"));
            }
            return;
        }
        tried.add(choice.entityId());
        long remainingMillis = Math.max(1, TimeUnit.NANOSECONDS.toMillis(remainingNanos));
        InferenceRequest sent = request.withTimeoutMillis(remainingMillis);
        AtomicInteger counter = inFlight.computeIfAbsent(choice.entityId(), k -> new AtomicInteger());
        counter.incrementAndGet();
        CompletionStage<InferenceResponse> outcome = send(choice, sent, prepared, remainingMillis);
        Stages.onDone(outcome, (response, error) -> {
            counter.decrementAndGet();
            if (error == null) {
                result.complete(response);
                return;
            }
            InferenceException e = asInferenceException(error, choice);
            boolean retryable = e.kind() == ErrorKind.OVERLOADED || e.kind() == ErrorKind.UNAVAILABLE
                    || e.kind() == ErrorKind.RESIDENCY_VIOLATION;
            if (retryable && attemptNo < settings.maxAttempts() && deadline - System.nanoTime() > 0) {
                if (log.isDebugEnabled()) {
                    RequestMdc.run(request, () -> log.debug("replica {} answered {} ({}); trying another,"
                            + " attempt {} of {}", choice.entityId(), e.kind(), e.getMessage(), attemptNo + 1,
                            settings.maxAttempts()));
                }
                attempt(request, prepared, manifest, deadline, tried, attemptNo + 1, e, result);
            } else {
                result.completeExceptionally(e);
            }
        });
    }

    private CompletionStage<InferenceResponse> send(Choice choice, InferenceRequest sent,
                                                    ModelSignature.Prepared prepared, long remainingMillis) {
        if (pool != null && self.address().equals(choice.address())) {
            Optional<PooledReplica> local = pool.ready(choice.entityId());
            if (local.isPresent()) {
                return local.get().serve(sent, prepared, false);
            }
        }
        long bytes = io.meshinfer.shard.LargeMessages.bytes(sent.inputs());
        boolean remote = !self.address().equals(choice.address());
        if (remote && bytes > large.largeLimit()) {
            return CompletableFuture.failedFuture(new InferenceException.Unavailable("a request with " + bytes
                    + " tensor bytes cannot travel between nodes (at most " + large.largeLimit()
                    + ", meshinfer.transport.max-large-message less 32 KiB), and replica " + choice.entityId()
                    + " is on another node; send it to a node that holds a replica of " + sent.model()));
        }
        Duration askTimeout = Duration.ofMillis(remainingMillis).plus(settings.replyGrace());
        CompletableFuture<ModelReplica.Reply> reply = new CompletableFuture<>();
        if (choice.address() != null) {
            pendingByNode.computeIfAbsent(choice.address(), k -> ConcurrentHashMap.newKeySet()).add(reply);
            Stages.onDone(reply, (r, e) -> {
                Set<CompletableFuture<ModelReplica.Reply>> pending = pendingByNode.get(choice.address());
                if (pending != null) {
                    pending.remove(reply);
                }
            });
            if (!members.serving(choice.address()) && !self.address().equals(choice.address())) {
                reply.completeExceptionally(new NodeLost(choice.address()));
            }
        }
        Stages.onDone(askReplica(choice, sent, askTimeout, remote && bytes > large.ordinaryLimit()), (r, e) -> {
                    if (e != null) {
                        reply.completeExceptionally(e);
                    } else {
                        reply.complete(r);
                    }
                });
        return reply.thenCompose(r -> {
            if (r instanceof ModelReplica.Answer answer) {
                return CompletableFuture.completedFuture(answer.response());
            }
            return CompletableFuture.failedFuture(((ModelReplica.Failure) r).error().toException());
        });
    }

    /**
     * Asks the replica actor directly when its location names it, else through sharding; a
     * {@code large} request goes through the relay of the replica's node (Artery's large
     * channel), which needs the replica's location. The reply completes on the thread that
     * delivers it ({@link Stages#inline}), not on a thread of its own.
     */
    private CompletionStage<ModelReplica.Reply> askReplica(Choice choice, InferenceRequest sent, Duration timeout,
                                                           boolean large) {
        if (large) { // attempt() sends large requests only to replicas with a known location
            return Stages.inline(AskPattern.ask(this.large.relayAt(choice.address()),
                    (ActorRef<ModelReplica.Reply> replyTo) -> new io.meshinfer.shard.LargeMessages.Forward(
                            choice.relayTarget(), new ModelReplica.Infer(sent, replyTo)),
                    timeout, scheduler));
        }
        if (choice.entity() != null) {
            return Stages.inline(AskPattern.ask(choice.entity(),
                    (ActorRef<ModelReplica.Reply> replyTo) -> new ModelReplica.Infer(sent, replyTo), timeout, scheduler));
        }
        EntityRef<ModelReplica.Command> ref = sharding.entityRefFor(ModelReplica.TYPE_KEY, choice.entityId());
        return Stages.inline(ref.ask(replyTo -> new ModelReplica.Infer(sent, replyTo), timeout));
    }

    /** A replica's node left or became unreachable while a request to it was in flight. */
    private static final class NodeLost extends RuntimeException {
        NodeLost(String address) {
            super("node " + address + " became unreachable", null, false, false);
        }
    }

    private void failPendingOn(String address) {
        Set<CompletableFuture<ModelReplica.Reply>> pending = pendingByNode.remove(address);
        if (pending != null) {
            for (CompletableFuture<ModelReplica.Reply> f : pending) {
                f.completeExceptionally(new NodeLost(address));
            }
        }
    }

    private static InferenceException asInferenceException(Throwable error, Choice choice) {
        Throwable cause = error;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof InferenceException ie) {
            return ie;
        }
        if (cause instanceof NodeLost lost) {
            return new InferenceException.Unavailable("replica " + choice.entityId() + ": " + lost.getMessage());
        }
        if (cause instanceof TimeoutException) {
            return new InferenceException.DeadlineExceeded("no answer from replica " + choice.entityId()
                    + " before the deadline");
        }
        return new InferenceException.Internal("asking replica " + choice.entityId() + " failed: " + cause);
    }

    /** Picks the replica for one attempt, or null when no untried replica may serve. */
    private Choice choose(ModelManifest manifest, Set<String> residency, List<String> tried) {
        List<String> ids = manifest.replicaIds();
        List<ReplicaLocation> live = new ArrayList<>(ids.size());
        List<String> unknown = new ArrayList<>();
        for (String id : ids) {
            if (tried.contains(id)) {
                continue;
            }
            Optional<ReplicaLocation> l = locations.get(id);
            if (l.isEmpty()) {
                unknown.add(id);
                continue;
            }
            ReplicaLocation loc = l.get();
            boolean reachable = loc.address().equals(self.address()) || members.serving(loc.address());
            if (!reachable) {
                continue; // its node is gone: sharding will restart it elsewhere, and it will publish anew
            }
            if (!residency.isEmpty() && !residency.contains(loc.region())) {
                continue;
            }
            if (loc.ready()) {
                live.add(loc);
            } else {
                unknown.add(id); // loading: its entity stashes requests until it is ready
            }
        }
        if (live.isEmpty()) {
            if (unknown.isEmpty()) {
                return null;
            }
            // through sharding (which knows where it is); a loading replica's entity is named for large requests
            Optional<ReplicaLocation> loading = locations.get(unknown.get(0));
            return new Choice(unknown.get(0), loading.map(ReplicaLocation::address).orElse(null), null,
                    loading.map(ReplicaLocation::entity).orElse(null));
        }
        int bestTier = Integer.MAX_VALUE;
        for (ReplicaLocation l : live) {
            bestTier = Math.min(bestTier, tier(l));
        }
        List<ReplicaLocation> nearest = new ArrayList<>();
        int nearestLoad = Integer.MAX_VALUE;
        for (ReplicaLocation l : live) {
            if (tier(l) == bestTier) {
                nearest.add(l);
                nearestLoad = Math.min(nearestLoad, inFlight(l.entityId()));
            }
        }
        List<ReplicaLocation> candidates = nearestLoad >= settings.localitySpill() ? live : nearest;
        ReplicaLocation pick = powerOfTwo(candidates);
        return new Choice(pick.entityId(), pick.address(), pick.entity(), pick.entity());
    }

    private int tier(ReplicaLocation l) {
        if (l.address().equals(self.address())) {
            return 0;
        }
        if (l.region().equals(self.region())) {
            return l.zone().equals(self.zone()) ? 1 : 2;
        }
        return 3;
    }

    private ReplicaLocation powerOfTwo(List<ReplicaLocation> candidates) {
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        ReplicaLocation a = candidates.get(rnd.nextInt(candidates.size()));
        if (candidates.size() == 1) {
            return a;
        }
        ReplicaLocation b = candidates.get(rnd.nextInt(candidates.size()));
        return inFlight(b.entityId()) < inFlight(a.entityId()) ? b : a;
    }

    /** The error when no replica may serve: residency, or simply none live. */
    private InferenceException noReplica(ModelManifest manifest, InferenceRequest request) {
        Set<String> residency = request.residency();
        if (!residency.isEmpty()) {
            if (!manifest.regions().isEmpty() && manifest.regions().stream().noneMatch(residency::contains)) {
                return new InferenceException.ResidencyViolation(manifest.key() + " is placed only in regions "
                        + new TreeSet<>(manifest.regions()) + ", outside the request's residency "
                        + new TreeSet<>(residency));
            }
            Set<String> liveRegions = new TreeSet<>();
            for (ReplicaLocation l : locations.of(manifest.replicaIds())) {
                if (l.ready() && (l.address().equals(self.address()) || members.serving(l.address()))) {
                    liveRegions.add(l.region());
                }
            }
            if (!liveRegions.isEmpty()) {
                return new InferenceException.ResidencyViolation("no live replica of " + manifest.key()
                        + " may process data restricted to " + new TreeSet<>(residency) + "; its live replicas run in "
                        + liveRegions);
            }
            return new InferenceException.Unavailable("no live replica of " + manifest.key() + " in regions "
                    + new TreeSet<>(residency));
        }
        return new InferenceException.Unavailable("no live replica of " + manifest.key());
    }
}
