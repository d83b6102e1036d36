package io.meshinfer.node;

import com.typesafe.config.Config;
import io.meshinfer.shard.MemoryBudget;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * Who and where this node is, read once from {@code meshinfer.node} and
 * {@code meshinfer.http}: its name, region, zone and data directory, the HTTP address it
 * serves on, the port of its artifact listener ({@code meshinfer.artifacts.port}, on
 * the HTTP host; used only with mutual TLS between nodes; 0: any free port), and the memory
 * budget for its replicas ({@code meshinfer.node.memory-budget}; empty: no limit).
 */
public record NodeSettings(String name, String region, String zone, Path dataDir, String httpHost, int httpPort,
                           int artifactPort, OptionalLong memoryBudget) {

    public static NodeSettings fromConfig(Config root) {
        Config n = root.getConfig("meshinfer.node");
        Config h = root.getConfig("meshinfer.http");
        String name = n.getString("name");
        if (name.isEmpty()) {
            name = root.getString("pekko.remote.artery.canonical.hostname") + ":"
                    + root.getInt("pekko.remote.artery.canonical.port");
        }
        return new NodeSettings(name, n.getString("region"), n.getString("zone"), Path.of(n.getString("data-dir")),
                h.getString("host"), h.getInt("port"), root.getInt("meshinfer.artifacts.port"),
                MemoryBudget.nodeBudget(root));
    }
}
