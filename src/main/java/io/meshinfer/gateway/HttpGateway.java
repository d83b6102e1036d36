package io.meshinfer.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.meshinfer.api.ErrorKind;
import io.meshinfer.api.InferenceException;
import io.meshinfer.api.Principal;
import io.meshinfer.protocol.InputLimits;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.RequestMdc;
import io.meshinfer.api.TraceContext;
import io.meshinfer.protocol.OipBinary;
import io.meshinfer.protocol.OipJson;
import io.meshinfer.registry.ArtifactStore;
import io.meshinfer.registry.Attestor;
import io.meshinfer.registry.GoldenVectors;
import io.meshinfer.registry.ModelEntry;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.runtime.ModelLoadException;
import io.meshinfer.runtime.ModelSignature;
import io.meshinfer.runtime.TensorSpec;
import io.meshinfer.shard.MemoryBudget;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.ExceptionHandler;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.RejectionHandler;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;
import org.apache.pekko.stream.Materializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP face of a node: the Open Inference Protocol (health, model metadata and
 * readiness, inference), the admin API (deploy, undeploy, list) and cluster status.
 * Every error is JSON {@code {"error": "..."}} with the status {@link ErrorStatus} gives
 * its kind; bodies over their limit get 413 before they are read in full. Inference goes
 * through the {@link Router}; nothing here blocks a pekko-http thread. With
 * authentication on, everything but {@code /v2/health/*}, {@code /metrics} and
 * {@code /v1/artifacts/*} needs a bearer token ({@link GatewayAuth}).
 *
 * <p>Model files ({@code GET /v1/artifacts/{sha256}}, what peers fetch to load a replica)
 * are served here to anyone only when the node runs without mutual TLS between nodes
 * ({@link NodeBackend#artifactsOnGateway}). With it, this port answers 403 and the node
 * serves {@link #artifactRoute} on its own artifact port, bound with {@link #bindArtifacts}
 * to a context that requires a cluster member's client certificate.
 */
public final class HttpGateway extends AllDirectives {
    private static final Logger log = LoggerFactory.getLogger(HttpGateway.class);

    private final ActorSystem<?> system;
    private final NodeBackend backend;
    private final long maxRequestBody;
    private final long maxModelBody;
    private final OipJson json;
    private final OipBinary binary;
    private final ObjectMapper mapper = new ObjectMapper();
    private final Materializer materializer;
    private final GatewayAuth auth;
    /** Whether {@code GET /metrics} needs a valid token when authentication is on. */
    private final boolean metricsNeedToken;
    private final DashboardRoutes dashboard;
    private final EnsembleRoutes ensembles;

    /**
     * @param system the actor system that runs the HTTP server (the node's local one)
     * @param maxRequestBody largest inference body
     * @param maxModelBody largest model upload
     */
    public HttpGateway(ActorSystem<?> system, NodeBackend backend, long maxRequestBody, long maxModelBody) {
        this.system = system;
        this.backend = backend;
        this.maxRequestBody = maxRequestBody;
        this.maxModelBody = maxModelBody;
        this.json = new OipJson(InputLimits.fromConfig(system.settings().config()));
        this.binary = new OipBinary(json);
        this.materializer = Materializer.matFromSystem(system);
        this.auth = new GatewayAuth(backend, mapper, exceptionHandler(), rejectionHandler());
        this.dashboard = new DashboardRoutes(backend, mapper);
        this.metricsNeedToken = system.settings().config().getBoolean("meshinfer.security.metrics-need-token");
        this.ensembles = new EnsembleRoutes(backend, mapper,
                io.meshinfer.ensemble.EnsembleSettings.fromConfig(system.settings().config()));
    }

    /** Binds the routes on {@code host:port}. */
    public CompletionStage<ServerBinding> bind(String host, int port) {
        return Http.get(system).newServerAt(host, port).bind(route());
    }

    /** Binds the routes on {@code host:port}, serving HTTPS with {@code https} when given. */
    public CompletionStage<ServerBinding> bind(String host, int port,
                                               Optional<org.apache.pekko.http.javadsl.HttpsConnectionContext> https) {
        return https.map(context -> Http.get(system).newServerAt(host, port).enableHttps(context).bind(route()))
                .orElseGet(() -> bind(host, port));
    }

    public Route route() {
        return handleExceptions(exceptionHandler(), () -> handleRejections(rejectionHandler(), () -> concat(
                pathPrefix(PathMatchers.segment("v2").slash("health"), this::healthRoutes),
                path(PathMatchers.segment("v1").slash("artifacts").slash(PathMatchers.segment()),
                        sha -> get(() -> backend.artifactsOnGateway() ? artifact(sha) : artifactsElsewhere())),
                path("metrics", () -> get(() -> metricsNeedToken ? auth.authenticated(p -> metrics()) : metrics())),
                dashboard.pages(),
                auth.authenticated(principal -> concat(
                        pathPrefix("v2", () -> oipRoutes(principal)),
                        pathPrefix("v1", () -> adminRoutes(principal)))))));
    }

    /**
     * The artifact port's only route, {@code GET /v1/artifacts/{sha256}}, for peers that must
     * host a replica of a version (everything else is 404). Who may call it is the job of the
     * connection context it is bound with ({@link #bindArtifacts}).
     */
    public Route artifactRoute() {
        return handleExceptions(exceptionHandler(), () -> handleRejections(rejectionHandler(), () ->
                path(PathMatchers.segment("v1").slash("artifacts").slash(PathMatchers.segment()),
                        sha -> get(() -> artifact(sha)))));
    }

    /** Binds {@link #artifactRoute} on {@code host:port} with {@code mutualTls} (client certificates required). */
    public CompletionStage<ServerBinding> bindArtifacts(String host, int port,
                                                        org.apache.pekko.http.javadsl.HttpsConnectionContext mutualTls) {
        return Http.get(system).newServerAt(host, port).enableHttps(mutualTls).bind(artifactRoute());
    }

    /** The public port's answer to an artifact request when only cluster members may fetch artifacts. */
    private Route artifactsElsewhere() {
        return completeError(new InferenceException.PermissionDenied("model artifacts are served only to cluster"
                + " members, over mutual TLS on the node's artifact port (meshinfer.artifacts.port), not on this port"));
    }

    /**
     * Prometheus text format: every {@code meshinfer_} metric of this node, and the JVM's.
     * Open like the health probes (scrapers carry no token); it holds counts, never payloads.
     */
    private Route metrics() {
        return completeWithFuture(CompletableFuture.supplyAsync(() -> HttpResponse.create()
                .withEntity(HttpEntities.create(io.meshinfer.observability.NodeMetrics.CONTENT_TYPE,
                        backend.metrics().scrape())), backend.blocking()));
    }

    /** Open to probes, with or without authentication. */
    private Route healthRoutes() {
        return concat(
                path("live", () -> get(() -> completeJson(StatusCodes.OK, mapper.createObjectNode().put("live", true)))),
                path("ready", () -> get(this::nodeReady)));
    }

    private Route oipRoutes(Optional<Principal> principal) {
        return concat(
                pathEnd(() -> get(() -> completeJson(StatusCodes.OK, serverMetadata()))),
                pathPrefix("models", () -> pathPrefix(PathMatchers.segment(),
                        model -> auth.model(principal, model, () -> modelRoutes(model, principal)))));
    }

    private Route modelRoutes(String model, Optional<Principal> principal) {
        return concat(
                pathEnd(() -> get(() -> metadata(model, null))),
                path("ready", () -> get(() -> modelReady(model, null))),
                path("infer", () -> post(() -> infer(model, null, principal))),
                pathPrefix("versions", () -> pathPrefix(PathMatchers.segment(), version -> concat(
                        pathEnd(() -> get(() -> metadata(model, version))),
                        path("ready", () -> get(() -> modelReady(model, version))),
                        path("infer", () -> post(() -> infer(model, version, principal)))))));
    }

    private Route adminRoutes(Optional<Principal> principal) {
        return concat(
                dashboard.statsRoute(),
                path("cluster", () -> get(() -> completeJson(StatusCodes.OK,
                        ClusterStatus.toJson(backend.clusterSnapshot(), mapper)))),
                pathPrefix("test", () -> auth.adminOnly(principal, this::testRoutes)),
                path("models", () -> get(this::listModels)),
                pathPrefix("ensembles", () -> ensembles.route(principal, auth)),
                pathPrefix(PathMatchers.segment("models").slash(PathMatchers.segment()).slash("rollout"),
                        model -> new RolloutRoutes(backend, mapper).route(model, principal, auth)),
                path(PathMatchers.segment("models").slash(PathMatchers.segment()).slash("versions")
                                .slash(PathMatchers.segment()).slash("placement"),
                        (model, version) -> get(() -> placement(model, version))),
                path(PathMatchers.segment("models").slash(PathMatchers.segment()).slash("versions")
                                .slash(PathMatchers.segment()),
                        (model, version) -> concat(
                                put(() -> auth.admin(principal, "deploy", model, version,
                                        () -> deploy(model, version, principal))),
                                delete(() -> auth.admin(principal, "undeploy", model, version,
                                        () -> undeploy(model, version))))),
                path(PathMatchers.segment("models").slash(PathMatchers.segment()).slash("versions")
                                .slash(PathMatchers.segment()).slash("attestations"),
                        (model, version) -> get(() -> attestations(model, version))));
    }

    // ---- Open Inference Protocol ----

    private ObjectNode serverMetadata() {
        ObjectNode n = mapper.createObjectNode();
        n.put("name", "meshinfer");
        n.put("version", Optional.ofNullable(HttpGateway.class.getPackage().getImplementationVersion()).orElse("dev"));
        n.putArray("extensions");
        return n;
    }

    private Route nodeReady() {
        boolean up = backend.ready();
        ObjectNode n = mapper.createObjectNode().put("ready", up);
        return completeJson(up ? StatusCodes.OK : StatusCodes.SERVICE_UNAVAILABLE, n);
    }

    private Route metadata(String model, String version) {
        ModelManifest m;
        try {
            m = manifestFor(model, version);
        } catch (InferenceException e) {
            return completeError(e);
        }
        ModelEntry entry = backend.catalog().model(model).orElseThrow();
        ObjectNode n = mapper.createObjectNode();
        n.put("name", model);
        ArrayNode versions = n.putArray("versions");
        entry.versions().keySet().stream().sorted().forEach(versions::add);
        n.put("platform", m.isEnsemble() ? "ensemble" : "onnxruntime_onnx");
        n.put("version", m.version());
        n.put("sha256", m.sha256());
        n.put("batchable", m.signature().batchable());
        ModelSignature sig = m.signature();
        n.set("inputs", specs(sig.inputs()));
        n.set("outputs", specs(sig.outputs()));
        return completeJson(StatusCodes.OK, n);
    }

    private ArrayNode specs(java.util.List<TensorSpec> specs) {
        ArrayNode a = mapper.createArrayNode();
        for (TensorSpec s : specs) {
            ObjectNode o = a.addObject();
            o.put("name", s.name());
            o.put("datatype", s.dtype().name());
            ArrayNode shape = o.putArray("shape");
            Arrays.stream(s.protocolShape()).forEach(shape::add);
            ArrayNode symbols = o.putArray("dims");
            s.shape().forEach(d -> symbols.add(d.toString()));
        }
        return a;
    }

    private Route modelReady(String model, String version) {
        ModelManifest m;
        try {
            m = manifestFor(model, version);
        } catch (InferenceException e) {
            return completeError(e);
        }
        boolean ready = backend.versionReady(model, m.version());
        ObjectNode n = mapper.createObjectNode().put("name", model).put("version", m.version()).put("ready", ready);
        return completeJson(ready ? StatusCodes.OK : StatusCodes.BAD_REQUEST, n);
    }

    /** The version a metadata or readiness call is about: the pinned one, or the serving one. */
    private ModelManifest manifestFor(String model, String version) {
        ModelEntry entry = backend.catalog().model(model).orElseThrow(() ->
                new InferenceException.ModelNotFound("model '" + model + "' is not deployed"));
        if (version != null) {
            return entry.version(version).orElseThrow(() -> new InferenceException.ModelNotFound(
                    "version '" + version + "' of model '" + model + "' is not deployed"));
        }
        return entry.weights().entrySet().stream().max(java.util.Map.Entry.comparingByValue())
                .flatMap(e -> entry.version(e.getKey()))
                .orElseThrow(() -> new InferenceException.ModelNotFound("model '" + model + "' has no serving version"));
    }

    private Route infer(String model, String version, Optional<Principal> principal) {
        return extractRequest(httpRequest -> {
            Traced traced = Traced.of(httpRequest);
            return optionalHeaderValueByName(OipBinary.HEADER_LENGTH, headerLength ->
                    withSizeLimit(maxRequestBody, () -> entity(Unmarshaller.entityToByteString(), body -> {
                        OipBinary.Request request;
                        try {
                            long timeout = backend.routing().defaultTimeout().toMillis();
                            long maxTimeout = backend.routing().maxTimeout().toMillis();
                            // binary tensors are read from the received bytes (for a body that came in
                            // one piece, without copying it); a JSON body is read as one array
                            request = headerLength.isPresent()
                                    ? binary.decodeRequest(body.asByteBuffer(), headerLength.get(), model, version,
                                            timeout, maxTimeout)
                                    : binary.decodeRequest(body.toArray(), null, model, version, timeout,
                                            maxTimeout);
                        } catch (InferenceException e) {
                            auth.auditRefused(principal, "infer", model, version,
                                    io.meshinfer.routing.EntryPoint.outcome(e));
                            return complete(traced.addTo(errorResponse(e)));
                        }
                        InferenceRequest admitted = request.request().withPrincipalAndTrace(principal.orElse(null),
                                traced.trace());
                        if (traced.malformed() && log.isDebugEnabled()) {
                            RequestMdc.run(admitted, () -> log.debug("ignored a malformed traceparent header;"
                                    + " started a new trace"));
                        }
                        CompletionStage<HttpResponse> response = backend.inference().infer(admitted)
                                .handle((r, error) -> traced.addTo(error == null
                                        ? inferResponse(binary.encodeResponse(r, request.binaryOutputs()))
                                        : inferFailed(admitted, error)));
                        return completeWithFuture(response);
                    })));
        });
    }

    /**
     * The W3C trace context of one inference request at this node: the caller's trace
     * continued with a span of this node's own (or a new trace when the request carries no
     * valid {@code traceparent}, or more than one), and the caller's {@code tracestate},
     * returned unchanged when it is well-formed, at most 512 characters, and came with a valid
     * {@code traceparent} (otherwise dropped, as the specification says). Both go back on
     * the response, whatever its status.
     */
    private record Traced(TraceContext trace, String tracestate, boolean malformed) {
        static Traced of(org.apache.pekko.http.javadsl.model.HttpRequest request) {
            String parent = null;
            int parents = 0;
            String state = null;
            for (HttpHeader h : request.getHeaders()) {
                if (h.is(TraceContext.TRACEPARENT)) {
                    parent = h.value();
                    parents++;
                } else if (h.is(TraceContext.TRACESTATE)) {
                    // several tracestate headers are one list (RFC 9110 field combination)
                    state = state == null ? h.value() : state + "," + h.value();
                }
            }
            TraceContext caller = parents == 1 ? TraceContext.parse(parent) : null;
            return new Traced(TraceContext.continueFrom(caller),
                    caller == null ? null : TraceContext.acceptTracestate(state), parents > 0 && caller == null);
        }

        HttpResponse addTo(HttpResponse response) {
            HttpResponse r = response.addHeader(RawHeader.create(TraceContext.TRACEPARENT, trace.traceparent()));
            return tracestate == null ? r : r.addHeader(RawHeader.create(TraceContext.TRACESTATE, tracestate));
        }
    }

    /**
     * The error answer to an inference request, logged with its id and trace: failures of the
     * server as warnings. A model's own error message may quote input values, so it is logged
     * only at debug level (the caller gets it in full).
     */
    private HttpResponse inferFailed(InferenceRequest request, Throwable error) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        if (cause instanceof InferenceException quiet && quiet.kind() != ErrorKind.INTERNAL
                && quiet.kind() != ErrorKind.MODEL_FAILED && !log.isDebugEnabled()) {
            return errorResponse(quiet); // nothing to log: no MDC work on the overload path
        }
        return errorResponse(RequestMdc.supply(request, () -> {
            InferenceException e = asInferenceException(error);
            if (e.kind() == ErrorKind.INTERNAL) {
                log.warn("inference on model {} failed ({}): {}", request.model(), e.kind(), e.getMessage());
            } else if (e.kind() == ErrorKind.MODEL_FAILED) {
                log.warn("inference on model {} failed ({}): the model failed on the request's input",
                        request.model(), e.kind());
            }
            log.debug("inference on model {} answered {}: {}", request.model(), e.kind(), e.getMessage());
            return e;
        }));
    }

    /** Plain JSON, or (binary tensor data extension) a JSON header and raw tensor bytes. */
    private static HttpResponse inferResponse(OipBinary.Body body) {
        HttpResponse ok = HttpResponse.create().withStatus(StatusCodes.OK);
        if (!body.binary()) {
            return ok.withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, body.bytes()));
        }
        return ok.addHeader(RawHeader.create(OipBinary.HEADER_LENGTH, Integer.toString(body.jsonLength())))
                .withEntity(HttpEntities.create(ContentTypes.APPLICATION_OCTET_STREAM, body.bytes()));
    }

    // ---- admin ----

    private Route listModels() {
        ArrayNode a = mapper.createArrayNode();
        for (ModelManifest m : backend.catalog().manifests()) {
            a.add(manifestJson(m));
        }
        ObjectNode n = mapper.createObjectNode();
        n.set("models", a);
        return completeJson(StatusCodes.OK, n);
    }

    private ObjectNode manifestJson(ModelManifest m) {
        ObjectNode n = mapper.createObjectNode();
        n.put("model", m.model());
        n.put("version", m.version());
        n.put("sha256", m.sha256());
        n.put("size", m.sizeBytes());
        n.put("replicas", m.isEnsemble() ? 0 : m.replicas());
        if (m.isPipeline()) {
            ArrayNode stages = n.putArray("stages");
            m.stageModels().forEach(stages::add);
        }
        if (m.isEnsemble()) {
            n.put("ensemble", m.ensemble().combine().wireName());
        }
        if (m.stageOf() != null) {
            n.put("stageOf", m.stageOf() + "@" + m.version());
        }
        ArrayNode regions = n.putArray("regions");
        m.regions().stream().sorted().forEach(regions::add);
        if (m.maxBatch() != null) {
            n.put("maxBatch", m.maxBatch());
        }
        if (m.maxDelayMillis() != null) {
            n.put("maxDelayMs", m.maxDelayMillis());
        }
        n.put("batchable", m.signature().batchable());
        n.put("deployedBy", m.deployedBy());
        n.put("deployedAt", java.time.Instant.ofEpochMilli(m.deployedAtMillis()).toString());
        n.put("origin", m.originNode());
        n.set("inputs", specs(m.signature().inputs()));
        n.set("outputs", specs(m.signature().outputs()));
        n.set("golden", AttestationStatus.golden(m.golden(), mapper));
        ModelEntry entry = backend.catalog().model(m.model()).orElse(null);
        n.put("weight", entry == null ? 0 : entry.weights().getOrDefault(m.version(), 0));
        return n;
    }

    private Route deploy(String model, String version, Optional<Principal> principal) {
        DeployRequest req;
        try {
            ModelManifest.requireName("model", model);
            ModelManifest.requireName("version", version);
            req = new DeployRequest(model, version, principal.map(Principal::subject).orElse("anonymous"));
        } catch (IllegalArgumentException e) {
            return completeError(new InferenceException.InvalidInput(e.getMessage()));
        }
        if (backend.catalog().model(model).stream().flatMap(e -> e.versions().values().stream())
                .anyMatch(ModelManifest::isEnsemble)) {
            return complete(json(StatusCodes.CONFLICT, mapper.createObjectNode().put("error", "'" + model
                    + "' is an ensemble (PUT /v1/ensembles/" + model + "/...); a model needs a name of its own")));
        }
        return parameterMap(params -> {
            DeployOptions options;
            try {
                options = DeployOptions.parse(params, json.limits());
            } catch (IllegalArgumentException e) {
                return completeError(new InferenceException.InvalidInput(e.getMessage()));
            }
            return withSizeLimit(maxModelBody, () -> extractRequestEntity(entity -> {
                Path tmp = backend.store().newIncomingFile();
                CompletionStage<HttpResponse> result = DeployUpload.receive(entity, tmp, maxRequestBody, materializer)
                        .thenApplyAsync(golden -> commitAndInspect(tmp, req, golden), backend.blocking())
                        .thenCompose(inspected -> options.stages() == null ? register(req, options, inspected)
                                : CompletableFuture.supplyAsync(() -> split(inspected, options.stages()),
                                        backend.blocking())
                                .thenCompose(stages -> registerPipeline(req, options, inspected, stages)))
                        .exceptionally(error -> {
                            deleteQuietly(tmp);
                            EntityStreamSizeException tooLarge = sizeLimitCause(error);
                            if (tooLarge != null) {
                                return errorResponse(StatusCodes.PAYLOAD_TOO_LARGE, "the model file is larger than"
                                        + " the limit of " + tooLarge.limit() + " bytes");
                            }
                            return adminErrorResponse(error);
                        });
                return completeWithFuture(result);
            }));
        });
    }

    /** The model and version of a deploy, checked before its body is read, and who deploys it. */
    private record DeployRequest(String model, String version, String by) {
    }

    /** A stored and inspected upload, with the golden vectors its manifest carries (null: none). */
    private record Inspected(String sha256, long size, ModelSignature signature, GoldenVectors golden) {
    }

    /**
     * Stores the upload and inspects it: with supplied golden vectors ({@code goldenJson}),
     * checks the model reproduces them; without, records golden vectors unless the same
     * bytes are deployed under this version with golden vectors already (which are kept).
     */
    private Inspected commitAndInspect(Path tmp, DeployRequest req, byte[] goldenJson) {
        try {
            long size = Files.size(tmp);
            if (size == 0) {
                throw new InferenceException.InvalidInput("the model file is empty (0 bytes)");
            }
            GoldenVectors supplied = goldenJson == null ? null : suppliedGolden(goldenJson);
            String sha = backend.store().commit(tmp);
            Path stored = backend.store().verifiedPath(sha).orElseThrow(() ->
                    new InferenceException.Internal("the uploaded model vanished from the artifact store"));
            Optional<GoldenVectors> kept = backend.catalog().manifest(req.model(), req.version())
                    .filter(e -> e.sha256().equals(sha)).map(ModelManifest::golden);
            try {
                Attestor.Inspection i = backend.attestor().inspect(sha, stored, supplied,
                        supplied == null && kept.isEmpty());
                return new Inspected(sha, size, i.signature(), i.golden() != null ? i.golden() : kept.orElse(null));
            } catch (ModelLoadException | InferenceException.InvalidInput e) {
                if (backend.catalog().manifests().stream().noneMatch(m -> m.sha256().equals(sha))) {
                    backend.store().delete(sha);
                }
                throw new InferenceException.InvalidInput(e.getMessage());
            }
        } catch (IOException e) {
            throw new InferenceException.Internal("storing the model failed: " + e.getMessage());
        }
    }

    private CompletionStage<HttpResponse> register(DeployRequest req, DeployOptions options, Inspected inspected) {
        Optional<ModelManifest> existing = backend.catalog().manifest(req.model(), req.version());
        if (existing.isPresent()) {
            ModelManifest e = existing.get();
            if (!e.sha256().equals(inspected.sha256())) {
                return CompletableFuture.completedFuture(json(StatusCodes.CONFLICT, mapper.createObjectNode().put("error",
                        "version '" + req.version() + "' of model '" + req.model() + "' is already deployed with"
                                + " different content (sha256 " + e.sha256() + "); versions are immutable:"
                                + " deploy a new version or undeploy this one first")));
            }
        }
        Optional<String> tooLarge = exceedsEveryBudget("model '" + req.model() + "' version '" + req.version()
                + "'", "model file", inspected.size(), options.regions(), 0);
        if (tooLarge.isPresent()) {
            return conflict(tooLarge.get());
        }
        ModelManifest manifest = new ModelManifest(req.model(), req.version(), inspected.sha256(), inspected.size(),
                inspected.signature(), options.replicas(), options.regions(), options.maxBatch(),
                options.maxDelayMillis(), backend.nodeName(), System.currentTimeMillis(), req.by(),
                inspected.golden(), 0, null);
        return backend.deploy(manifest).handle((done, error) -> {
            if (error != null) {
                return adminErrorResponse(error);
            }
            log.info("deployed {} ({} replicas, sha256 {})", manifest.key(), manifest.replicas(), manifest.sha256());
            return json(existing.isPresent() ? StatusCodes.OK : StatusCodes.CREATED, manifestJson(manifest));
        });
    }

    private CompletionStage<HttpResponse> conflict(String message) {
        return CompletableFuture.completedFuture(json(StatusCodes.CONFLICT,
                mapper.createObjectNode().put("error", message)));
    }

    /**
     * Deploy admission against node memory budgets: why one replica of {@code what} (a file of
     * {@code sizeBytes}) can never be placed, when every Up replica host its {@code regions}
     * allow has a budget ({@code meshinfer.node.memory-budget}) and the replica's estimate
     * exceeds the largest; empty when some host could take it, when a host without a budget may
     * (unlimited), or when no host is known yet (placement waits for one). Free room is not
     * judged here: that changes as replicas come and go, and placement waits for it.
     *
     * @param stages the stage count when {@code what} is a pipeline stage, 0 for a whole model
     */
    private Optional<String> exceedsEveryBudget(String what, String file, long sizeBytes, Set<String> regions,
                                                int stages) {
        ClusterSnapshot cluster = backend.clusterSnapshot();
        java.util.List<io.meshinfer.routing.MemberInfo> hosts = cluster.hostsFor(regions);
        if (hosts.isEmpty() || hosts.stream().anyMatch(h -> h.memoryBudget().isEmpty())) {
            return Optional.empty();
        }
        io.meshinfer.routing.MemberInfo largest = hosts.stream()
                .max(java.util.Comparator.comparingLong(h -> h.memoryBudget().getAsLong())).orElseThrow();
        long budget = largest.memoryBudget().getAsLong();
        long estimate = cluster.memory().estimate(sizeBytes);
        if (estimate <= budget) {
            return Optional.empty();
        }
        long perStage = Math.max(2, (estimate + budget - 1) / budget);
        long suggested = stages == 0 ? perStage : stages * perStage;
        return Optional.of(what + " does not fit any node: one replica needs an estimated "
                + MemoryBudget.human(estimate) + " (" + file + " " + MemoryBudget.human(sizeBytes)
                + " x meshinfer.placement.memory-overhead " + cluster.memory().overhead() + "), more than the"
                + " largest memory budget of the " + hosts.size() + " replica host(s)"
                + (regions.isEmpty() ? "" : " in regions " + regions) + " (" + MemoryBudget.human(budget) + " on "
                + largest.name() + "); deploy it split into pipeline stages, e.g. with stages=" + suggested
                + (stages > 0 ? " (it is now split into " + stages + ")" : "") + ", or add a node with a larger"
                + " --memory-budget");
    }

    /** One stage of a split model, stored in the artifact store: what its manifest needs. */
    private record StageArtifact(String sha256, long size, ModelSignature signature) {
    }

    /**
     * Splits a stored model into {@code k} stages with the partitioner (its chain check
     * included) and stores each stage in the artifact store, from where peers fetch it like
     * any artifact. A split that fails is a 400 naming the reason.
     */
    private java.util.List<StageArtifact> split(Inspected whole, int k) {
        Path stored;
        try {
            stored = backend.store().verifiedPath(whole.sha256()).orElseThrow(() ->
                    new InferenceException.Internal("the uploaded model vanished from the artifact store"));
        } catch (IOException e) {
            throw new InferenceException.Internal("reading the uploaded model failed: " + e.getMessage());
        }
        io.meshinfer.partition.Partition partition;
        try {
            partition = new io.meshinfer.partition.Partitioner(backend.runtime())
                    .partition(stored, io.meshinfer.partition.Partitioner.Options.stages(k));
        } catch (io.meshinfer.partition.PartitionException e) {
            throw new InferenceException.InvalidInput("cannot split the model into " + k + " stages: "
                    + e.getMessage());
        }
        java.util.List<StageArtifact> stages = new java.util.ArrayList<>();
        for (io.meshinfer.partition.Partition.Stage stage : partition.stages()) {
            try {
                String sha = backend.store().put(stage.bytes());
                Path file = backend.store().verifiedPath(sha).orElseThrow(() ->
                        new InferenceException.Internal("stage " + stage.index() + " vanished from the artifact store"));
                ModelSignature sig = backend.attestor().inspect(sha, file, null, false).signature();
                stages.add(new StageArtifact(sha, stage.onnx().size(), sig));
            } catch (IOException e) {
                throw new InferenceException.Internal("storing stage " + stage.index() + " failed: " + e.getMessage());
            } catch (ModelLoadException e) {
                throw new InferenceException.InvalidInput("stage " + stage.index() + " does not load: "
                        + e.getMessage());
            }
        }
        return stages;
    }

    /**
     * Registers a pipeline: each stage as the internal model {@code m~stage-i} (same version,
     * same replicas, regions and batching), one after another, then the pipeline's own
     * manifest (no replicas of its own), which makes it routable. Redeploying the same bytes
     * with the same stage count is idempotent.
     */
    private CompletionStage<HttpResponse> registerPipeline(DeployRequest req, DeployOptions options,
                                                           Inspected inspected, java.util.List<StageArtifact> stages) {
        Optional<ModelManifest> existing = backend.catalog().manifest(req.model(), req.version());
        if (existing.isPresent() && (!existing.get().sha256().equals(inspected.sha256())
                || existing.get().stages() != stages.size())) {
            return CompletableFuture.completedFuture(json(StatusCodes.CONFLICT, mapper.createObjectNode().put("error",
                    "version '" + req.version() + "' of model '" + req.model() + "' is already deployed with"
                            + " different content or stages (sha256 " + existing.get().sha256() + ", "
                            + existing.get().stages() + " stages); versions are immutable: deploy a new version or"
                            + " undeploy this one first")));
        }
        for (int i = 0; i < stages.size(); i++) {
            Optional<String> tooLarge = exceedsEveryBudget("stage " + i + " of model '" + req.model() + "' version '"
                    + req.version() + "'", "stage file", stages.get(i).size(), options.regions(), stages.size());
            if (tooLarge.isPresent()) {
                return conflict(tooLarge.get());
            }
        }
        long now = System.currentTimeMillis();
        CompletionStage<Done> chain = CompletableFuture.completedFuture(Done.getInstance());
        for (int i = 0; i < stages.size(); i++) {
            StageArtifact a = stages.get(i);
            ModelManifest stage = new ModelManifest(ModelManifest.stageModel(req.model(), i), req.version(), a.sha256(),
                    a.size(), a.signature(), options.replicas(), options.regions(), options.maxBatch(),
                    options.maxDelayMillis(), backend.nodeName(), now, req.by(), null, 0, req.model());
            chain = chain.thenCompose(done -> backend.deploy(stage));
        }
        ModelManifest manifest = new ModelManifest(req.model(), req.version(), inspected.sha256(), inspected.size(),
                inspected.signature(), options.replicas(), options.regions(), options.maxBatch(),
                options.maxDelayMillis(), backend.nodeName(), now, req.by(), inspected.golden(), stages.size(), null);
        return chain.thenCompose(done -> backend.deploy(manifest)).handle((done, error) -> {
            if (error != null) {
                return adminErrorResponse(error);
            }
            log.info("deployed {} as a pipeline of {} stages ({} replicas each, sha256 {})", manifest.key(),
                    manifest.stages(), manifest.replicas(), manifest.sha256());
            return json(existing.isPresent() ? StatusCodes.OK : StatusCodes.CREATED, manifestJson(manifest));
        });
    }

    /** Golden vectors from a deploy's JSON part; the tolerance defaults to the node's. */
    private GoldenVectors suppliedGolden(byte[] body) {
        OipJson.GoldenBody g = json.decodeGolden(body);
        java.util.Map<String, io.meshinfer.tensor.Tensor> inputs = new java.util.HashMap<>();
        g.inputs().forEach(t -> inputs.put(t.name(), t.tensor()));
        java.util.Map<String, io.meshinfer.tensor.Tensor> outputs = new java.util.HashMap<>();
        g.outputs().forEach(t -> outputs.put(t.name(), t.tensor()));
        double tolerance = g.tolerance() != null ? g.tolerance() : backend.attestor().settings().tolerance();
        return new GoldenVectors(java.util.List.of(new GoldenVectors.Sample(inputs, outputs)), tolerance,
                GoldenVectors.SUPPLIED);
    }

    /** Every node's consistency attestation of one version against its golden vectors. */
    private Route attestations(String model, String version) {
        Optional<ModelManifest> m = backend.catalog().manifest(model, version);
        if (m.isEmpty()) {
            return completeError(new InferenceException.ModelNotFound(backend.catalog().model(model).isEmpty()
                    ? "model '" + model + "' is not deployed"
                    : "version '" + version + "' of model '" + model + "' is not deployed"));
        }
        return completeJson(StatusCodes.OK, AttestationStatus.toJson(m.get(),
                backend.attestations(model, version), mapper));
    }

    private Route undeploy(String model, String version) {
        Optional<ModelManifest> target = backend.catalog().manifest(model, version);
        if (target.isEmpty()) {
            return completeError(new InferenceException.ModelNotFound(
                    "version '" + version + "' of model '" + model + "' is not deployed"));
        }
        if (target.get().stageOf() != null) {
            return completeError(new InferenceException.InvalidInput("'" + model + "' is a stage of pipeline '"
                    + target.get().stageOf() + "@" + version + "'; undeploy the pipeline"));
        }
        var rollout = backend.catalog().model(model).flatMap(ModelEntry::activeRollout)
                .filter(r -> r.from().equals(version) || r.to().equals(version));
        if (rollout.isPresent()) {
            return complete(json(StatusCodes.CONFLICT, mapper.createObjectNode().put("error", "version '" + version
                    + "' of model '" + model + "' is in a rollout (" + rollout.get().from() + " -> "
                    + rollout.get().to() + "); abort or finish it first")));
        }
        List<String> users = ensemblesUsing(model, version);
        if (!users.isEmpty()) {
            return complete(json(StatusCodes.CONFLICT, mapper.createObjectNode().put("error", "version '" + version
                    + "' of model '" + model + "' is a member of ensemble " + String.join(", ", users)
                    + "; undeploy " + (users.size() == 1 ? "it" : "them") + " first")));
        }
        // the pipeline first, so no new chain starts; then its stages (chains in flight finish
        // or fail over within their deadline)
        CompletionStage<Done> removed = backend.undeploy(model, version);
        for (String stage : target.get().stageModels()) {
            removed = removed.thenCompose(done -> backend.catalog().manifest(stage, version).isEmpty()
                    ? CompletableFuture.completedFuture(done) : backend.undeploy(stage, version));
        }
        return completeWithFuture(removed.handle((done, error) -> {
            if (error != null) {
                return adminErrorResponse(error);
            }
            log.info("undeployed {}@{}", model, version);
            return json(StatusCodes.OK, mapper.createObjectNode().put("model", model).put("version", version)
                    .put("undeployed", true));
        }));
    }

    /**
     * The deployed ensembles ({@code name@version}) that would lose a member if {@code model@version}
     * went: those naming that version, and those naming the model unpinned when it is the
     * model's last version.
     */
    private List<String> ensemblesUsing(String model, String version) {
        boolean lastVersion = backend.catalog().model(model).map(e -> e.versions().keySet().equals(Set.of(version)))
                .orElse(false);
        List<String> users = new ArrayList<>();
        for (ModelManifest m : backend.catalog().manifests()) {
            if (m.ensemble() != null && m.ensemble().members().stream().anyMatch(member -> member.model().equals(model)
                    && (version.equals(member.version()) || (member.version() == null && lastVersion)))) {
                users.add(m.key());
            }
        }
        return users;
    }

    /** Where each replica of a version runs and whether it is ready (what {@code meshinfer deploy} waits on). */
    private Route placement(String model, String version) {
        Optional<ModelManifest> m = backend.catalog().manifest(model, version);
        if (m.isEmpty()) {
            return completeError(new InferenceException.ModelNotFound(
                    "version '" + version + "' of model '" + model + "' is not deployed"));
        }
        java.util.List<ModelManifest> placed = new java.util.ArrayList<>();
        placed.add(m.get());
        for (String stage : m.get().stageModels()) {
            backend.catalog().manifest(stage, version).ifPresent(placed::add);
        }
        return completeJson(StatusCodes.OK, ClusterStatus.placementJson(backend.clusterSnapshot(), placed, mapper));
    }

    /** A stored artifact, for peers that must host a replica of it. */
    private Route artifact(String sha256) {
        if (!ArtifactStore.isHash(sha256)) {
            return completeError(new InferenceException.InvalidInput("not a sha256: " + sha256));
        }
        Optional<Path> file;
        try {
            file = backend.store().contains(sha256) ? Optional.of(backend.store().directory().resolve(sha256 + ".onnx"))
                    : Optional.empty();
        } catch (RuntimeException e) {
            return completeError(new InferenceException.Internal("artifact store: " + e.getMessage()));
        }
        if (file.isEmpty()) {
            return completeError(new InferenceException.ModelNotFound("artifact " + sha256 + " is not on this node"));
        }
        return complete(HttpResponse.create().withStatus(StatusCodes.OK).withEntity(
                HttpEntities.create(ContentTypes.APPLICATION_OCTET_STREAM, file.get())));
    }

    /** Fault injection for the multi-JVM harness; 404 unless test mode is on. */
    private Route testRoutes() {
        Optional<NodeBackend.TestControl> control = backend.testControl();
        if (control.isEmpty()) {
            return completeError(new InferenceException.ModelNotFound("test mode is off on this node"));
        }
        return concat(
                path("partition", () -> post(() -> entity(Unmarshaller.entityToByteArray(), body ->
                        peersThen(body, peers -> control.get().partition(peers))))),
                path("heal", () -> post(() -> entity(Unmarshaller.entityToByteArray(), body ->
                        peersThen(body, peers -> control.get().heal(peers))))));
    }

    private Route peersThen(byte[] body, java.util.function.Function<java.util.List<String>, CompletionStage<Done>> op) {
        java.util.List<String> peers = new java.util.ArrayList<>();
        try {
            if (body.length > 0) {
                mapper.readTree(body).path("peers").forEach(p -> peers.add(p.asText()));
            }
        } catch (IOException e) {
            return completeError(new InferenceException.InvalidInput("body must be {\"peers\": [\"host:port\", ...]}"));
        }
        return completeWithFuture(op.apply(peers).handle((done, error) -> error == null
                ? json(StatusCodes.OK, mapper.createObjectNode().put("ok", true))
                : errorResponse(asInferenceException(error))));
    }

    // ---- responses and errors ----

    private Route completeJson(StatusCode status, ObjectNode body) {
        return complete(json(status, body));
    }

    private HttpResponse json(StatusCode status, ObjectNode body) {
        return JsonReplies.json(mapper, status, body);
    }

    private Route completeError(InferenceException e) {
        return complete(errorResponse(e));
    }

    private HttpResponse errorResponse(InferenceException e) {
        return errorResponse(ErrorStatus.of(e.kind()), e.getMessage());
    }

    private HttpResponse errorResponse(StatusCode status, String message) {
        return HttpResponse.create().withStatus(status)
                .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, json.encodeError(message)));
    }

    /**
     * The status and message of a failed deploy or undeploy: 409 when the catalog's writer
     * found a conflict (a racing deploy got there first), else by the error's kind.
     */
    static java.util.Map.Entry<StatusCode, String> adminFailure(Throwable error) {
        if (unwrap(error) instanceof io.meshinfer.registry.CatalogConflict conflict) {
            return java.util.Map.entry(StatusCodes.CONFLICT, conflict.getMessage());
        }
        InferenceException e = asInferenceException(error);
        return java.util.Map.entry(ErrorStatus.of(e.kind()), e.getMessage());
    }

    private HttpResponse adminErrorResponse(Throwable error) {
        java.util.Map.Entry<StatusCode, String> failure = adminFailure(error);
        return errorResponse(failure.getKey(), failure.getValue());
    }

    /** {@code error} without the CompletionExceptions that asynchronous stages wrap it in. */
    private static Throwable unwrap(Throwable error) {
        Throwable cause = error;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause;
    }

    static InferenceException asInferenceException(Throwable error) {
        Throwable cause = unwrap(error);
        if (cause instanceof InferenceException ie) {
            return ie;
        }
        if (cause instanceof EntityStreamSizeException size) {
            return new InferenceException.InvalidInput("the body is larger than the limit of " + size.limit()
                    + " bytes");
        }
        if (cause instanceof java.util.concurrent.TimeoutException) {
            return new InferenceException.Unavailable("the cluster did not answer in time: " + cause.getMessage());
        }
        log.error("unexpected failure in the gateway", cause);
        return new InferenceException.Internal("internal error: " + cause.getClass().getSimpleName());
    }

    private ExceptionHandler exceptionHandler() {
        return ExceptionHandler.newBuilder()
                .match(EntityStreamSizeException.class, e -> complete(errorResponse(StatusCodes.PAYLOAD_TOO_LARGE,
                        "the body is larger than the limit of " + e.limit() + " bytes")))
                .match(InferenceException.class, e -> complete(errorResponse(e)))
                .match(RuntimeException.class, e -> {
                    log.error("unexpected failure in the gateway", e);
                    return complete(errorResponse(StatusCodes.INTERNAL_SERVER_ERROR, "internal error: "
                            + e.getClass().getSimpleName()));
                })
                .build();
    }

    private RejectionHandler rejectionHandler() {
        return RejectionHandler.defaultHandler().mapRejectionResponse(response -> {
            if (response.entity() instanceof HttpEntity.Strict strict
                    && !strict.getContentType().equals(ContentTypes.APPLICATION_JSON)) {
                String message = strict.getData().utf8String();
                int status = response.status().intValue();
                String text = status == 404 ? "no such endpoint" : message;
                if (status == 413 || message.contains("exceeds the configured limit")) {
                    return errorResponse(StatusCodes.PAYLOAD_TOO_LARGE, message);
                }
                return errorResponse(response.status(), text);
            }
            return response;
        });
    }

    /** The size-limit failure somewhere in {@code error}'s causes, or null. */
    private static EntityStreamSizeException sizeLimitCause(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof EntityStreamSizeException e) {
                return e;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return null;
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            log.warn("cannot delete {}: {}", p, e.getMessage());
        }
    }

    /** The most stages a deploy may ask for (the partitioner also refuses more than the graph's nodes). */
    static final int MAX_STAGES = 64;

    /**
     * Deploy query parameters: {@code replicas}, {@code regions}, {@code maxBatch},
     * {@code maxDelayMs}, {@code stages} (null: serve the model whole).
     */
    record DeployOptions(int replicas, Set<String> regions, Integer maxBatch, Long maxDelayMillis, Integer stages) {
        static DeployOptions parse(java.util.Map<String, String> q, InputLimits limits) {
            int replicas = q.containsKey("replicas") ? positiveInt(q.get("replicas"), "replicas", 1000) : 1;
            Set<String> regions = new LinkedHashSet<>();
            if (q.containsKey("regions") && !q.get("regions").isBlank()) {
                for (String r : q.get("regions").split(",")) {
                    if (r.trim().length() > limits.maxParameterLength()) {
                        throw new IllegalArgumentException("a region in regions is " + r.trim().length()
                                + " characters long, more than the limit of " + limits.maxParameterLength());
                    }
                    if (!r.isBlank() && regions.add(r.trim()) && regions.size() > limits.maxResidencyRegions()) {
                        throw new IllegalArgumentException("regions names more than " + limits.maxResidencyRegions()
                                + " regions, the limit");
                    }
                }
            }
            Integer maxBatch = q.containsKey("maxBatch") ? positiveInt(q.get("maxBatch"), "maxBatch", 65536) : null;
            Long maxDelay = null;
            if (q.containsKey("maxDelayMs")) {
                try {
                    maxDelay = Long.parseLong(q.get("maxDelayMs"));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("maxDelayMs must be a whole number of milliseconds, not '"
                            + q.get("maxDelayMs") + "'");
                }
                if (maxDelay < 0 || maxDelay > 60_000) {
                    throw new IllegalArgumentException("maxDelayMs must be between 0 and 60000, not " + maxDelay);
                }
            }
            Integer stages = q.containsKey("stages") ? positiveInt(q.get("stages"), "stages", MAX_STAGES) : null;
            return new DeployOptions(replicas, regions, maxBatch, maxDelay, stages);
        }

        private static int positiveInt(String s, String name, int max) {
            try {
                int v = Integer.parseInt(s);
                if (v < 1 || v > max) {
                    throw new IllegalArgumentException(name + " must be between 1 and " + max + ", not " + v);
                }
                return v;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(name + " must be a whole number, not '" + s + "'");
            }
        }
    }
}
