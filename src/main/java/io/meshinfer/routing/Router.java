package io.meshinfer.routing;

import io.meshinfer.api.ErrorKind;
import io.meshinfer.api.InferenceException;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.registry.CatalogView;
import io.meshinfer.registry.ModelEntry;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.shard.ModelReplica;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;

/**
 * Routes requests to model replicas from this node's local view of the catalog: no
 * actor and no singleton on the request path.
 *
 * <p>It picks the version (the request's pin, or the routing weights), validates the
 * inputs against that version's signature (so bad requests never cross the network),
 * picks the replica with the fewest requests this node has in flight to it, and asks it.
 * An {@code OVERLOADED} or {@code UNAVAILABLE} answer is retried on another replica while
 * the deadline allows. Every call completes exactly once: with the response, or
 * exceptionally with an {@link InferenceException} (a missing reply becomes
 * {@code DEADLINE_EXCEEDED} shortly after the deadline). Thread-safe.
 */
public final class Router {
    private final ClusterSharding sharding;
    private final CatalogView catalog;
    private final RouterSettings settings;
    private final Map<String, AtomicInteger> inFlight = new ConcurrentHashMap<>();

    public Router(ActorSystem<?> system, CatalogView catalog, RouterSettings settings) {
        this.sharding = ClusterSharding.get(system);
        this.catalog = catalog;
        this.settings = settings;
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

    /** Answers {@code request}; see the class comment for the guarantees. */
    public CompletionStage<InferenceResponse> infer(InferenceRequest request) {
        ModelManifest manifest;
        try {
            manifest = resolve(request);
            manifest.signature().prepare(request.inputs(), request.outputs(), settings.maxRequestBytes());
        } catch (InferenceException e) {
            return CompletableFuture.failedFuture(e);
        }
        long budget = Math.min(request.timeoutMillis(), settings.maxTimeout().toMillis());
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(budget);
        CompletableFuture<InferenceResponse> result = new CompletableFuture<>();
        attempt(request, manifest, deadline, new HashSet<>(), 1, result);
        return result;
    }

    /** The manifest a request goes to. @throws InferenceException if there is none */
    public ModelManifest resolve(InferenceRequest request) {
        ModelEntry entry = catalog.model(request.model()).orElseThrow(() ->
                new InferenceException.ModelNotFound("model '" + request.model() + "' is not deployed"));
        if (request.version() != null) {
            return entry.version(request.version()).orElseThrow(() -> new InferenceException.ModelNotFound(
                    "version '" + request.version() + "' of model '" + request.model() + "' is not deployed"
                            + " (deployed: " + entry.versions().keySet().stream().sorted()
                            .collect(Collectors.joining(", ")) + ")"));
        }
        return entry.pickVersion().orElseThrow(() -> new InferenceException.Unavailable(
                "no version of model '" + request.model() + "' takes unpinned traffic; pin a version"));
    }

    private void attempt(InferenceRequest request, ModelManifest manifest, long deadline, Set<String> tried,
                         int attemptNo, CompletableFuture<InferenceResponse> result) {
        long remainingNanos = deadline - System.nanoTime();
        if (remainingNanos <= 0) {
            result.completeExceptionally(new InferenceException.DeadlineExceeded(
                    "the deadline passed before a replica of " + manifest.key() + " answered"));
            return;
        }
        String replica = pick(manifest.replicaIds(), tried);
        tried.add(replica);
        AtomicInteger counter = inFlight.computeIfAbsent(replica, k -> new AtomicInteger());
        counter.incrementAndGet();
        long remainingMillis = Math.max(1, TimeUnit.NANOSECONDS.toMillis(remainingNanos));
        InferenceRequest sent = request.withTimeoutMillis(remainingMillis);
        EntityRef<ModelReplica.Command> ref = sharding.entityRefFor(ModelReplica.TYPE_KEY, replica);
        Duration askTimeout = Duration.ofMillis(remainingMillis).plus(settings.replyGrace());
        ref.<ModelReplica.Reply>ask(replyTo -> new ModelReplica.Infer(sent, replyTo), askTimeout)
                .whenComplete((reply, error) -> {
                    counter.decrementAndGet();
                    if (error != null) {
                        Throwable cause = error instanceof CompletionException && error.getCause() != null
                                ? error.getCause() : error;
                        if (cause instanceof TimeoutException) {
                            result.completeExceptionally(new InferenceException.DeadlineExceeded(
                                    "no answer from replica " + replica + " before the deadline"));
                        } else {
                            result.completeExceptionally(new InferenceException.Internal(
                                    "asking replica " + replica + " failed: " + cause));
                        }
                    } else if (reply instanceof ModelReplica.Answer answer) {
                        result.complete(answer.response());
                    } else if (reply instanceof ModelReplica.Failure failure) {
                        ErrorKind kind = failure.error().kind();
                        boolean retryable = kind == ErrorKind.OVERLOADED || kind == ErrorKind.UNAVAILABLE;
                        if (retryable && attemptNo < settings.maxAttempts()
                                && tried.size() < manifest.replicas() && deadline - System.nanoTime() > 0) {
                            attempt(request, manifest, deadline, tried, attemptNo + 1, result);
                        } else {
                            result.completeExceptionally(failure.error().toException());
                        }
                    }
                });
    }

    /** Power of two choices over the untried replicas, by this node's in-flight counts. */
    private String pick(List<String> replicas, Set<String> tried) {
        List<String> candidates = new ArrayList<>(replicas.size());
        for (String r : replicas) {
            if (!tried.contains(r)) {
                candidates.add(r);
            }
        }
        if (candidates.isEmpty()) {
            candidates.addAll(replicas);
        }
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        String a = candidates.get(rnd.nextInt(candidates.size()));
        if (candidates.size() == 1) {
            return a;
        }
        String b = candidates.get(rnd.nextInt(candidates.size()));
        return inFlight(b) < inFlight(a) ? b : a;
    }
}
