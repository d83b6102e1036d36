package io.meshinfer.gateway;

import io.meshinfer.registry.ArtifactStore;
import io.meshinfer.registry.Attestation;
import io.meshinfer.registry.Attestor;
import io.meshinfer.registry.CatalogView;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.routing.InferenceService;
import io.meshinfer.rollout.RolloutManager;
import io.meshinfer.rollout.RolloutSettings;
import io.meshinfer.rollout.RolloutSpec;
import io.meshinfer.routing.RouterSettings;
import io.meshinfer.runtime.ModelRuntime;
import io.meshinfer.security.AuditLog;
import io.meshinfer.security.Authenticator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.apache.pekko.Done;

/**
 * What the HTTP gateway serves from: the node behind it. The node may be between cluster
 * incarnations (rejoining after being downed); every method answers from what the node
 * knows now.
 */
public interface NodeBackend {
    /**
     * Answers requests: through the cluster, or from local replicas in island mode; a
     * request's principal is applied first and every request is audited.
     */
    InferenceService inference();

    RouterSettings routing();

    CatalogView catalog();

    ArtifactStore store();

    /**
     * Whether the gateway serves {@code GET /v1/artifacts/{sha256}} to any caller (no mutual
     * TLS between nodes); false when only cluster members may fetch artifacts, from the
     * node's artifact port ({@link HttpGateway#artifactRoute}).
     */
    boolean artifactsOnGateway();

    ModelRuntime runtime();

    /** Where blocking work (model inspection) runs. */
    Executor blocking();

    String nodeName();

    String nodeRegion();

    /** Verifies bearer tokens; empty when authentication is off. */
    Optional<Authenticator> authenticator();

    /** The node's audit log (a no-op one when auditing is off). */
    AuditLog audit();

    /** Registers a version in the replicated catalog; fails with an InferenceException. */
    CompletionStage<Done> deploy(ModelManifest manifest);

    /** Removes a version from the replicated catalog; fails with an InferenceException. */
    CompletionStage<Done> undeploy(String model, String version);

    /** Starts a rollout through the rollout manager singleton; never fails, the reply carries the outcome. */
    CompletionStage<RolloutManager.Reply> startRollout(String model, RolloutSpec spec, String by);

    /** Pauses, resumes, promotes or aborts a model's rollout; never fails, the reply carries the outcome. */
    CompletionStage<RolloutManager.Reply> controlRollout(String model, RolloutManager.Action action, String by);

    /** Defaults for rollout specs that leave something out. */
    RolloutSettings rolloutSettings();

    /** This node's Prometheus metrics. */
    io.meshinfer.observability.NodeMetrics metrics();

    /** Whether the node is an Up member of its cluster. */
    boolean ready();

    /** Whether some replica of the version is live and ready (anywhere in the cluster). */
    boolean versionReady(String model, String version);

    ClusterSnapshot clusterSnapshot();

    /** Golden vectors and consistency attestation on this node (records and checks them at deploy). */
    Attestor attestor();

    /**
     * The latest attestation result of every node that checked its replica of this version
     * against the version's golden vectors, sorted by node; empty when none did (or the
     * version has no golden vectors).
     */
    List<Attestation> attestations(String model, String version);

    /** Network fault injection, present only when test mode is on. */
    Optional<TestControl> testControl();

    /** Cuts and heals this node's links to peers (Artery test mode), for fault tests. */
    interface TestControl {
        /** Blackholes traffic to and from each {@code host:port} cluster address. */
        CompletionStage<Done> partition(List<String> peers);

        /** Restores traffic with these peers, or all when empty. */
        CompletionStage<Done> heal(List<String> peers);
    }
}
