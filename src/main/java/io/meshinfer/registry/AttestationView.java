package io.meshinfer.registry;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * This node's latest copy of every node's attestation results, read lock-free by the HTTP
 * layer. Written only by the {@link Attestations} actor of the current cluster
 * membership; between memberships it keeps what it last heard.
 */
public final class AttestationView {
    private volatile Map<String, Attestation> entries = Map.of();

    /** The results for one version, sorted by node. */
    public List<Attestation> of(String model, String version) {
        String key = model + "@" + version;
        List<Attestation> out = new ArrayList<>();
        for (Attestation a : entries.values()) {
            if (a.versionKey().equals(key)) {
                out.add(a);
            }
        }
        out.sort(Comparator.comparing(Attestation::node));
        return out;
    }

    public Collection<Attestation> all() {
        return entries.values();
    }

    void update(Map<String, Attestation> next) {
        entries = Map.copyOf(next);
    }
}
