package io.meshinfer.runtime;

import com.typesafe.config.Config;

/**
 * How ONNX Runtime sessions are created on this node, read once from
 * {@code meshinfer.runtime} (see reference.conf for what each setting trades off).
 */
public record RuntimeSettings(int intraOpThreads, int interOpThreads, boolean allowSpinning,
                              String optimizationLevel, long maxModelBytes) {

    public RuntimeSettings {
        if (intraOpThreads < 1 || interOpThreads < 1) {
            throw new IllegalArgumentException("ONNX Runtime thread counts must be at least 1");
        }
        if (!java.util.List.of("none", "basic", "extended", "all").contains(optimizationLevel)) {
            throw new IllegalArgumentException("meshinfer.runtime.optimization-level must be none, basic, extended"
                    + " or all, not '" + optimizationLevel + "'");
        }
    }

    public static RuntimeSettings fromConfig(Config root) {
        Config c = root.getConfig("meshinfer.runtime");
        return new RuntimeSettings(
                c.getInt("intra-op-threads"),
                c.getInt("inter-op-threads"),
                c.getBoolean("allow-spinning"),
                c.getString("optimization-level"),
                c.getBytes("max-model-bytes"));
    }
}
