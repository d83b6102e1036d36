package io.meshinfer.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.JsonNode;
import io.meshinfer.registry.Attestation;
import io.meshinfer.registry.GoldenVectors;
import io.meshinfer.registry.ModelManifest;
import java.time.Instant;
import java.util.List;

/**
 * The JSON of consistency attestation: {@code GET /v1/models/{m}/versions/{v}/attestations},
 * the golden-vector summary of a manifest, and the per-version summary in
 * {@code GET /v1/cluster}. A deviation that could not be measured (the model failed, an
 * output had another shape) is written as null.
 */
final class AttestationStatus {
    private AttestationStatus() {
    }

    /** {@code {"model", "version", "sha256", "tolerance", "golden": {"source", "samples"}, "nodes": [...]}}. */
    static ObjectNode toJson(ModelManifest m, List<Attestation> attestations, ObjectMapper mapper) {
        ObjectNode n = mapper.createObjectNode();
        n.put("model", m.model());
        n.put("version", m.version());
        n.put("sha256", m.sha256());
        if (m.golden() == null) {
            n.putNull("tolerance");
        } else {
            n.put("tolerance", m.golden().tolerance());
        }
        n.set("golden", golden(m.golden(), mapper));
        ArrayNode nodes = n.putArray("nodes");
        for (Attestation a : attestations) {
            ObjectNode o = nodes.addObject();
            o.put("node", a.node());
            o.put("region", a.region());
            o.put("address", a.address());
            o.put("passed", a.passed());
            number(o, "maxDeviation", a.maxDeviation());
            o.put("tolerance", a.tolerance());
            o.put("at", Instant.ofEpochMilli(a.atMillis()).toString());
            o.put("detail", a.detail());
            o.put("runtime", a.runtimeVersion());
        }
        return n;
    }

    /** {@code {"source", "samples", "tolerance"}} of a manifest's golden vectors, or null. */
    static JsonNode golden(GoldenVectors g, ObjectMapper mapper) {
        if (g == null) {
            return NullNode.getInstance();
        }
        ObjectNode o = mapper.createObjectNode();
        o.put("source", g.source());
        o.put("samples", g.samples().size());
        o.put("tolerance", g.tolerance());
        return o;
    }

    /**
     * {@code {"<version>": {"attested": n, "passed": p, "failed": [nodes]}}} for one model's
     * versions, counting only results for each version's current artifact.
     */
    static ObjectNode summary(io.meshinfer.registry.ModelEntry entry, List<Attestation> all, ObjectMapper mapper) {
        ObjectNode o = mapper.createObjectNode();
        entry.versions().values().stream().sorted(java.util.Comparator.comparing(ModelManifest::version))
                .forEach(m -> {
                    ObjectNode v = o.putObject(m.version());
                    int attested = 0;
                    int passed = 0;
                    ArrayNode failed = mapper.createArrayNode();
                    for (Attestation a : all) {
                        if (a.model().equals(m.model()) && a.version().equals(m.version())
                                && a.sha256().equals(m.sha256())) {
                            attested++;
                            if (a.passed()) {
                                passed++;
                            } else {
                                failed.add(a.node());
                            }
                        }
                    }
                    v.put("golden", m.golden() != null);
                    v.put("attested", attested);
                    v.put("passed", passed);
                    v.set("failed", failed);
                });
        return o;
    }

    private static void number(ObjectNode o, String field, double value) {
        if (Double.isFinite(value)) {
            o.put(field, value);
        } else {
            o.putNull(field);
        }
    }
}
