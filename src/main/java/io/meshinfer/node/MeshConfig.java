package io.meshinfer.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

/**
 * Loads meshinfer's configuration in a fixed order of precedence: system properties,
 * then {@code application.conf}, then {@code meshinfer-pekko.conf} (the Pekko settings
 * meshinfer changes), then every library's {@code reference.conf} (meshinfer's own keys
 * are there, under {@code meshinfer.}). Pekko's overrides cannot live in reference.conf:
 * a shaded jar concatenates all reference.conf files and a later library's defaults would
 * win.
 */
public final class MeshConfig {
    private MeshConfig() {
    }

    public static Config load() {
        return load(ConfigFactory.empty());
    }

    /** The configuration with {@code overrides} (e.g. from command-line flags) on top. */
    public static Config load(Config overrides) {
        ConfigFactory.invalidateCaches();
        Config app = ConfigFactory.defaultApplication()
                .withFallback(ConfigFactory.parseResources(MeshConfig.class.getClassLoader(), "meshinfer-pekko.conf"));
        return overrides.withFallback(ConfigFactory.load(app));
    }
}
