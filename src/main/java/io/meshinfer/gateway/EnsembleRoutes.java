package io.meshinfer.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.meshinfer.api.InferenceException;
import io.meshinfer.api.Principal;
import io.meshinfer.ensemble.EnsembleSettings;
import io.meshinfer.ensemble.EnsembleSignature;
import io.meshinfer.registry.EnsembleSpec;
import io.meshinfer.registry.ModelEntry;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.runtime.ModelSignature;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ensemble surface: {@code PUT /v1/ensembles/{name}/versions/{v}} defines an ensemble
 * version (JSON {@code {"members": [{"model", "version"?, "weight"?}], "combine", "missing"?,
 * "min_members"?}}), {@code DELETE} removes it, {@code GET /v1/ensembles} lists them. A definition
 * is checked against the catalog before it is stored: 400 for a malformed or unfit spec (a member
 * that is the ensemble itself or another ensemble, inputs or outputs that do not fit the combine
 * mode), 404 for a member or member version that is not deployed, 409 for a name that already
 * serves ONNX versions or a version already defined differently. The ensemble is stored as a
 * manifest in the replicated catalog (through the rollout manager, like any deploy), so every node
 * serves it under {@code /v2/models/{name}}. Changes need role {@code admin} and are audited.
 */
final class EnsembleRoutes extends AllDirectives {
    private static final Logger log = LoggerFactory.getLogger(EnsembleRoutes.class);
    private static final long MAX_SPEC_BYTES = 64 * 1024;
    private static final Set<String> SPEC_FIELDS = Set.of("members", "combine", "missing", "min_members");
    private static final Set<String> MEMBER_FIELDS = Set.of("model", "version", "weight");

    private final NodeBackend backend;
    private final ObjectMapper mapper;
    private final EnsembleSettings settings;

    EnsembleRoutes(NodeBackend backend, ObjectMapper mapper, EnsembleSettings settings) {
        this.backend = backend;
        this.mapper = mapper;
        this.settings = settings;
    }

    /** Routes under {@code /v1/ensembles}, for {@code principal} (empty: authentication off). */
    Route route(Optional<Principal> principal, GatewayAuth auth) {
        String by = principal.map(Principal::subject).orElse("anonymous");
        return concat(
                pathEnd(() -> get(this::list)),
                pathPrefix(name -> pathPrefix("versions", () -> path(version -> concat(
                        put(() -> auth.admin(principal, "deploy", name, version,
                                () -> withSizeLimit(MAX_SPEC_BYTES, () -> entity(Unmarshaller.entityToString(),
                                        body -> define(name, version, body, by))))),
                        delete(() -> auth.admin(principal, "undeploy", name, version,
                                () -> remove(name, version))))))));
    }

    private Route list() {
        ArrayNode a = mapper.createArrayNode();
        for (ModelManifest m : backend.catalog().manifests()) {
            if (m.isEnsemble()) {
                a.add(toJson(m));
            }
        }
        ObjectNode n = mapper.createObjectNode();
        n.set("ensembles", a);
        return complete(json(StatusCodes.OK, n));
    }

    private Route define(String name, String version, String body, String by) {
        EnsembleSpec spec;
        ModelSignature signature;
        try {
            ModelManifest.requireName("ensemble", name);
            ModelManifest.requireName("version", version);
            spec = parse(body, settings.maxMembers());
            signature = check(name, spec);
        } catch (IllegalArgumentException e) {
            return complete(error(StatusCodes.BAD_REQUEST, e.getMessage()));
        } catch (InferenceException e) {
            return complete(error(ErrorStatus.of(e.kind()), e.getMessage()));
        }
        Optional<ModelEntry> entry = backend.catalog().model(name);
        Optional<ModelManifest> plain = entry.stream().flatMap(e -> e.versions().values().stream())
                .filter(m -> !m.isEnsemble()).findFirst();
        if (plain.isPresent()) {
            return complete(error(StatusCodes.CONFLICT, "'" + name + "' already serves model version '"
                    + plain.get().version() + "' (an ONNX model); an ensemble needs a name of its own"));
        }
        Optional<ModelManifest> existing = entry.flatMap(e -> e.version(version));
        if (existing.isPresent() && !existing.get().sha256().equals(spec.contentHash())) {
            return complete(error(StatusCodes.CONFLICT, "version '" + version + "' of ensemble '" + name
                    + "' is already defined differently; versions are immutable: define a new version or remove"
                    + " this one first"));
        }
        ModelManifest manifest = new ModelManifest(name, version, spec.contentHash(), 0, signature, 1, Set.of(), null,
                null, backend.nodeName(), System.currentTimeMillis(), by, null, 0, null, spec);
        return completeWithFuture(backend.deploy(manifest).handle((done, failure) -> {
            if (failure != null) {
                var f = HttpGateway.adminFailure(failure);
                return error(f.getKey(), f.getValue());
            }
            log.info("defined ensemble {} ({} of {} members)", manifest.key(), spec.combine().wireName(),
                    spec.members().size());
            return json(existing.isPresent() ? StatusCodes.OK : StatusCodes.CREATED, toJson(manifest));
        }));
    }

    private Route remove(String name, String version) {
        Optional<ModelManifest> target = backend.catalog().manifest(name, version);
        if (target.isEmpty()) {
            return complete(error(StatusCodes.NOT_FOUND, "version '" + version + "' of ensemble '" + name
                    + "' is not defined"));
        }
        if (!target.get().isEnsemble()) {
            return complete(error(StatusCodes.BAD_REQUEST, "'" + name + "@" + version + "' is a model, not an"
                    + " ensemble; undeploy it with DELETE /v1/models/" + name + "/versions/" + version));
        }
        return completeWithFuture(backend.undeploy(name, version).handle((done, failure) -> {
            if (failure != null) {
                var f = HttpGateway.adminFailure(failure);
                return error(f.getKey(), f.getValue());
            }
            log.info("removed ensemble {}@{}", name, version);
            return json(StatusCodes.OK, mapper.createObjectNode().put("ensemble", name).put("version", version)
                    .put("removed", true));
        }));
    }

    /**
     * The ensemble's signature if its members are deployed and fit together.
     *
     * @throws InferenceException.ModelNotFound for a member or member version that is not deployed
     * @throws IllegalArgumentException for a member that cannot be one, or members that do not fit
     */
    private ModelSignature check(String name, EnsembleSpec spec) {
        List<ModelSignature> signatures = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        for (EnsembleSpec.Member m : spec.members()) {
            if (m.model().equals(name)) {
                throw new IllegalArgumentException("ensemble '" + name + "' cannot be its own member (a cycle)");
            }
            ModelEntry entry = backend.catalog().model(m.model()).orElseThrow(() ->
                    new InferenceException.ModelNotFound("member model '" + m.model() + "' is not deployed"));
            List<ModelManifest> versions = new ArrayList<>();
            if (m.version() != null) {
                versions.add(entry.version(m.version()).orElseThrow(() -> new InferenceException.ModelNotFound(
                        "version '" + m.version() + "' of member model '" + m.model() + "' is not deployed")));
            } else {
                // any version taking unpinned traffic may answer for the member
                entry.weights().forEach((v, w) -> entry.version(v).filter(x -> w > 0).ifPresent(versions::add));
                if (versions.isEmpty()) {
                    throw new InferenceException.ModelNotFound("member model '" + m.model() + "' has no version"
                            + " taking unpinned traffic; pin one (\"version\")");
                }
            }
            for (ModelManifest v : versions) {
                if (v.isEnsemble()) {
                    throw new IllegalArgumentException("member '" + m.label() + "' is an ensemble; members must be"
                            + " models (ensembles do not nest)");
                }
                if (v.stageOf() != null) {
                    throw new IllegalArgumentException("member '" + m.label() + "' is a pipeline stage; name the"
                            + " pipeline '" + v.stageOf() + "' instead");
                }
                signatures.add(v.signature());
                labels.add(v.key());
            }
        }
        return EnsembleSignature.derive(spec.combine(), signatures, labels);
    }

    /** Parses an ensemble definition; IllegalArgumentException says what is wrong. */
    static EnsembleSpec parse(String body, int maxMembers) {
        JsonNode n;
        try {
            n = new ObjectMapper().readTree(body);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("the ensemble definition is not valid JSON: " + e.getOriginalMessage());
        }
        if (n == null || !n.isObject()) {
            throw new IllegalArgumentException("the ensemble definition must be a JSON object");
        }
        JsonReplies.unknownFields(n, SPEC_FIELDS, "ensemble definition");
        JsonNode members = n.get("members");
        if (members == null || !members.isArray() || members.isEmpty()) {
            throw new IllegalArgumentException("\"members\" must be a non-empty array of {\"model\", \"version\","
                    + " \"weight\"}");
        }
        if (members.size() > maxMembers) {
            throw new IllegalArgumentException("an ensemble may have at most " + maxMembers + " members"
                    + " (meshinfer.ensemble.max-members), not " + members.size());
        }
        List<EnsembleSpec.Member> list = new ArrayList<>();
        for (JsonNode m : members) {
            if (!m.isObject()) {
                throw new IllegalArgumentException("each member must be an object {\"model\", \"version\", \"weight\"}");
            }
            JsonReplies.unknownFields(m, MEMBER_FIELDS, "member");
            if (!m.path("model").isTextual()) {
                throw new IllegalArgumentException("each member needs \"model\" (a string)");
            }
            JsonNode v = m.get("version");
            if (v != null && !v.isNull() && !v.isTextual()) {
                throw new IllegalArgumentException("a member's \"version\" must be a string");
            }
            JsonNode w = m.get("weight");
            if (w != null && !w.isNumber()) {
                throw new IllegalArgumentException("a member's \"weight\" must be a number");
            }
            list.add(new EnsembleSpec.Member(m.get("model").asText(), v == null || v.isNull() ? null : v.asText(),
                    w == null ? 1.0 : w.asDouble()));
        }
        if (!n.path("combine").isTextual()) {
            throw new IllegalArgumentException("\"combine\" must be one of mean, weighted_mean, vote, concat");
        }
        EnsembleSpec.Combine combine = EnsembleSpec.Combine.parse(n.get("combine").asText());
        EnsembleSpec.Missing missing = EnsembleSpec.Missing.FAIL;
        if (n.has("missing")) {
            if (!n.get("missing").isTextual()) {
                throw new IllegalArgumentException("\"missing\" must be fail or partial");
            }
            missing = EnsembleSpec.Missing.parse(n.get("missing").asText());
        }
        int minMembers = 1;
        if (n.has("min_members")) {
            if (!n.get("min_members").canConvertToInt() || !n.get("min_members").isIntegralNumber()) {
                throw new IllegalArgumentException("\"min_members\" must be a whole number");
            }
            minMembers = n.get("min_members").asInt();
        }
        return new EnsembleSpec(list, combine, missing, minMembers);
    }

    private ObjectNode toJson(ModelManifest m) {
        ObjectNode n = mapper.createObjectNode();
        n.put("ensemble", m.model());
        n.put("version", m.version());
        EnsembleSpec s = m.ensemble();
        ArrayNode members = n.putArray("members");
        for (EnsembleSpec.Member member : s.members()) {
            ObjectNode o = members.addObject().put("model", member.model());
            if (member.version() != null) {
                o.put("version", member.version());
            }
            o.put("weight", member.weight());
        }
        n.put("combine", s.combine().wireName());
        n.put("missing", s.missing().wireName());
        n.put("min_members", s.minMembers());
        n.put("deployedBy", m.deployedBy());
        n.put("deployedAt", java.time.Instant.ofEpochMilli(m.deployedAtMillis()).toString());
        ModelEntry entry = backend.catalog().model(m.model()).orElse(null);
        n.put("weight", entry == null ? 0 : entry.weights().getOrDefault(m.version(), 0));
        return n;
    }

    private HttpResponse error(StatusCode status, String message) {
        return JsonReplies.error(mapper, status, message);
    }

    private HttpResponse json(StatusCode status, ObjectNode body) {
        return JsonReplies.json(mapper, status, body);
    }
}
