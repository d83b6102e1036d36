package io.meshinfer.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.meshinfer.security.tls.ClusterTls;

/**
 * Loads meshinfer's configuration in a fixed order of precedence: the given overrides
 * (command-line flags), then system properties, then {@code application.conf}, then
 * {@code meshinfer-pekko.conf} (the Pekko settings meshinfer changes), then every
 * library's {@code reference.conf} (meshinfer's own keys are there, under
 * {@code meshinfer.}). Nothing is resolved before all layers are merged, so a Pekko
 * setting that refers to a meshinfer key (e.g. the durable store under
 * {@code meshinfer.node.data-dir}) follows an override of that key. Pekko's overrides
 * cannot live in reference.conf: a shaded jar concatenates all reference.conf files and
 * a later library's defaults would win. Callers resolve the result.
 */
public final class MeshConfig {
    private MeshConfig() {
    }

    public static Config load() {
        return load(ConfigFactory.empty());
    }

    /** The configuration with {@code overrides} (e.g. from command-line flags) on top, unresolved. */
    public static Config load(Config overrides) {
        ConfigFactory.invalidateCaches();
        ClassLoader cl = MeshConfig.class.getClassLoader();
        // a TLS directory (meshinfer.security.tls-dir) switches Artery to tls-tcp, which HOCON cannot express
        return ClusterTls.transportLayer(overrides
                .withFallback(ConfigFactory.systemProperties())
                .withFallback(ConfigFactory.parseResourcesAnySyntax(cl, "application"))
                .withFallback(ConfigFactory.parseResources(cl, "meshinfer-pekko.conf"))
                .withFallback(ConfigFactory.parseResourcesAnySyntax(cl, "reference")));
    }
}
