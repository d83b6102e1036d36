package io.meshinfer.routing;

import java.util.OptionalLong;
import java.util.Set;

/**
 * A cluster member as routing sees it: its address, the name, region, zone, HTTP address
 * and artifact URL it publishes as roles ({@code node:}, {@code region:}, {@code zone:},
 * {@code http:}, {@code artifacts:}), its status, whether this node can reach it, whether it
 * hosts replicas and the memory budget it offers them ({@code memory-budget:}; empty: no limit).
 *
 * @param artifacts the base URL of the member's mutual-TLS artifact port ({@code https://host:port});
 *                  empty when it serves artifacts on its gateway (no TLS between nodes)
 */
public record MemberInfo(String address, String name, String region, String zone, String http, String artifacts,
                         String status, boolean reachable, boolean replicaHost,
                         OptionalLong memoryBudget) {

    /** The value of the first role starting with {@code prefix}, or {@code fallback}. */
    public static String role(Set<String> roles, String prefix, String fallback) {
        for (String r : roles) {
            if (r.startsWith(prefix)) {
                return r.substring(prefix.length());
            }
        }
        return fallback;
    }

    /** Whether requests may be sent to this member: Up (or WeaklyUp) and reachable. */
    public boolean serving() {
        return reachable && (status.equals("Up") || status.equals("WeaklyUp"));
    }
}
