package io.meshinfer.security;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * Authentication settings, read once from {@code meshinfer.security}: the PEM file of the
 * public keys that verify bearer tokens (empty: authentication is off) and the clock skew
 * tolerated when checking a token's {@code exp} and {@code nbf}.
 */
public record SecuritySettings(Optional<Path> authPublicKey, Duration clockSkew) {

    public SecuritySettings {
        if (clockSkew.isNegative() || clockSkew.compareTo(Duration.ofMinutes(10)) > 0) {
            throw new IllegalArgumentException("meshinfer.security.clock-skew must be between 0 and 10 minutes, got "
                    + clockSkew);
        }
    }

    public static SecuritySettings fromConfig(Config root) {
        Config c = root.getConfig("meshinfer.security");
        String key = c.getString("auth-public-key");
        return new SecuritySettings(key.isBlank() ? Optional.empty() : Optional.of(Path.of(key)),
                c.getDuration("clock-skew"));
    }
}
