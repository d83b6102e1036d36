package io.meshinfer.shard;

import com.typesafe.config.Config;
import io.meshinfer.registry.ModelManifest;
import java.util.Collection;
import java.util.HashSet;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.Set;

/**
 * The memory arithmetic of placement: what a replica is estimated to need on a node, what a
 * node's replicas need together, and whether one more fits the node's budget
 * ({@code meshinfer.node.memory-budget}, published as the cluster role
 * {@code memory-budget:<bytes>}; a node without one is unlimited).
 *
 * <p>The estimate is an estimate, not a measurement: the artifact's size (its weights)
 * times {@code meshinfer.placement.memory-overhead}, for ONNX Runtime's copy of the weights
 * plus its arena and activation memory, which depend on the model, the batch size and the
 * runtime's settings. Replicas of one artifact (same sha256) on one node share one ONNX
 * Runtime session, so an artifact counts once per node however many replicas of it the node
 * holds. Immutable and without Pekko, so placement and the gateway's deploy admission agree.
 *
 * @param overhead the factor applied to an artifact's size, at least 1
 */
public record MemoryBudget(double overhead) {
    /** The cluster role prefix under which a node publishes its budget in bytes. */
    public static final String ROLE_PREFIX = "memory-budget:";

    public MemoryBudget {
        if (!(overhead >= 1.0) || Double.isInfinite(overhead)) {
            throw new IllegalArgumentException("meshinfer.placement.memory-overhead must be a number of at least 1,"
                    + " got " + overhead);
        }
    }

    public static MemoryBudget fromConfig(Config root) {
        return new MemoryBudget(root.getDouble("meshinfer.placement.memory-overhead"));
    }

    /**
     * This node's budget from {@code meshinfer.node.memory-budget}: a HOCON size
     * ({@code 512MiB}, {@code 2G}, bytes), or {@code off} (or empty) for no limit.
     *
     * @throws IllegalArgumentException for a budget that is not a positive size
     */
    public static OptionalLong nodeBudget(Config root) {
        String raw = root.getString("meshinfer.node.memory-budget").trim();
        if (raw.isEmpty() || raw.equalsIgnoreCase("off") || raw.equalsIgnoreCase("none")) {
            return OptionalLong.empty();
        }
        long bytes;
        try {
            bytes = root.getBytes("meshinfer.node.memory-budget");
        } catch (com.typesafe.config.ConfigException e) {
            throw new IllegalArgumentException("meshinfer.node.memory-budget (--memory-budget) must be a size such as"
                    + " 512MiB or 2GiB, or off; got '" + raw + "'", e);
        }
        if (bytes <= 0) {
            throw new IllegalArgumentException("meshinfer.node.memory-budget (--memory-budget) must be positive, got '"
                    + raw + "'");
        }
        return OptionalLong.of(bytes);
    }

    /** The cluster role that publishes {@code budget}. */
    public static String role(long budget) {
        return ROLE_PREFIX + budget;
    }

    /** The budget a member publishes in its roles; empty (unlimited) without a valid one. */
    public static OptionalLong budgetOf(Set<String> roles) {
        for (String r : roles) {
            if (r.startsWith(ROLE_PREFIX)) {
                try {
                    long b = Long.parseLong(r.substring(ROLE_PREFIX.length()));
                    return b > 0 ? OptionalLong.of(b) : OptionalLong.empty();
                } catch (NumberFormatException e) {
                    return OptionalLong.empty();
                }
            }
        }
        return OptionalLong.empty();
    }

    /** The estimated memory of one replica (or of all replicas on one node) of an artifact of this size. */
    public long estimate(long sizeBytes) {
        double e = Math.ceil(sizeBytes * overhead);
        return e >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) e;
    }

    public long estimate(ModelManifest m) {
        return estimate(m.sizeBytes());
    }

    /** The estimated memory of these replicas on one node: each artifact (sha256) counted once. */
    public long allocated(Collection<ModelManifest> onNode) {
        Set<String> seen = new HashSet<>();
        long sum = 0;
        for (ModelManifest m : onNode) {
            if (seen.add(m.sha256())) {
                sum = saturatedAdd(sum, estimate(m));
            }
        }
        return sum;
    }

    /**
     * Whether one more replica of {@code candidate} fits a node with this budget holding
     * {@code onNode}: always without a budget, and at no cost when the node already holds its
     * artifact; otherwise when the node's allocation plus the replica's estimate is at most
     * the budget.
     */
    public boolean fits(OptionalLong budget, Collection<ModelManifest> onNode, ModelManifest candidate) {
        if (budget.isEmpty()) {
            return true;
        }
        if (onNode.stream().anyMatch(m -> m.sha256().equals(candidate.sha256()))) {
            return true;
        }
        return saturatedAdd(allocated(onNode), estimate(candidate)) <= budget.getAsLong();
    }

    private static long saturatedAdd(long a, long b) {
        long s = a + b;
        return s < 0 ? Long.MAX_VALUE : s;
    }

    /** Bytes for people: {@code 786.4 KiB}, {@code 1.5 GiB}. */
    public static String human(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
