package io.meshinfer.api;

import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Who a request acts for, as its bearer token said: the subject, its roles, the models it
 * may use and the regions its requests may be served in. {@value #ANY} in {@code models}
 * or {@code regions} means any; an empty set means none. It travels with the request
 * through the cluster (so the replica that serves it can check it again, and audit
 * records name it). A request without a principal comes from a trusted in-process caller
 * or from a node with authentication off.
 *
 * @param tokenId the token's {@code jti}, for audit correlation (may be null)
 */
public record Principal(String subject, Set<String> roles, Set<String> models, Set<String> regions, String tokenId) {
    /** The claim value that allows every model or every region. */
    public static final String ANY = "*";
    /** The role that may deploy, undeploy and roll out. */
    public static final String ADMIN = "admin";

    public Principal {
        if (subject == null || subject.isEmpty()) {
            throw new IllegalArgumentException("a principal needs a subject");
        }
        roles = roles == null ? Set.of() : Set.copyOf(roles);
        models = models == null ? Set.of() : Set.copyOf(models);
        regions = regions == null ? Set.of() : Set.copyOf(regions);
    }

    public boolean hasRole(String role) {
        return roles.contains(role);
    }

    public boolean isAdmin() {
        return hasRole(ADMIN);
    }

    /**
     * Whether the token allows {@code model}; a pipeline's stage ({@code m~stage-i}) is
     * allowed when its pipeline {@code m} is.
     */
    public boolean mayUseModel(String model) {
        if (models.contains(ANY) || models.contains(model)) {
            return true;
        }
        int stage = model.indexOf("~stage-");
        return stage > 0 && models.contains(model.substring(0, stage));
    }

    public boolean anyRegion() {
        return regions.contains(ANY);
    }

    public boolean mayServeIn(String region) {
        return anyRegion() || regions.contains(region);
    }

    /**
     * The residency a request of this principal is held to: the request's own residency
     * (empty: any region) narrowed to the regions the token allows. An empty result from a
     * region-scoped token means no region may serve the request.
     */
    public Set<String> restrictResidency(Set<String> residency) {
        if (anyRegion()) {
            return residency;
        }
        if (residency.isEmpty()) {
            return regions;
        }
        Set<String> both = new LinkedHashSet<>(residency);
        both.retainAll(regions);
        return both;
    }
}
