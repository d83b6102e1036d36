package io.meshinfer.multijvm;

import static org.awaitility.Awaitility.await;

import io.meshinfer.models.DemoModel;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/** Small pieces the scenarios share. */
final class Scenarios {
    static final String MODEL = DemoModel.NAME;
    static final String VERSION = "1";

    private Scenarios() {
    }

    /** Nodes in one region, {@code region-a}, each in its own zone. */
    static ClusterHarness.NodeSpec[] nodes(String... names) {
        ClusterHarness.NodeSpec[] specs = new ClusterHarness.NodeSpec[names.length];
        for (int i = 0; i < names.length; i++) {
            specs[i] = new ClusterHarness.NodeSpec(names[i], "region-a", "zone-" + (i + 1));
        }
        return specs;
    }

    /**
     * A node holding a replica, the most recently started one among the holders: losing the
     * oldest node also moves the cluster leader and singletons, which PEKKO-NOTES covers
     * separately; these scenarios test losing a replica.
     */
    static String holderPreferringYoungest(ClusterHarness cluster, Map<String, String> placement) {
        List<String> order = cluster.names();
        return placement.values().stream().max((a, b) -> Integer.compare(order.indexOf(a), order.indexOf(b)))
                .orElseThrow(() -> new IllegalStateException("no replica placed: " + placement));
    }

    /** Waits until the driver has at least {@code successes} successful answers. */
    static void awaitSuccesses(LoadDriver load, long successes, Duration timeout) {
        await(load.name() + " has " + successes + " successes").atMost(timeout).pollInterval(Duration.ofMillis(200))
                .until(() -> load.snapshot().succeeded() >= successes);
    }

    /** Lets the scenario run on (load flowing) for {@code d}. */
    static void hold(Duration d) {
        await().pollDelay(d).atMost(d.plusSeconds(5)).until(() -> true);
    }

    static Set<String> without(Collection<String> all, String... excluded) {
        Set<String> s = new TreeSet<>(all);
        s.removeAll(Arrays.asList(excluded));
        return s;
    }

    static Set<String> setOf(String... names) {
        return new TreeSet<>(Arrays.asList(names));
    }
}
