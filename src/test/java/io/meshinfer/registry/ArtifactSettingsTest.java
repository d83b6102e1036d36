package io.meshinfer.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.typesafe.config.ConfigFactory;
import io.meshinfer.node.MeshConfig;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The artifact settings come from reference.conf; the scrub can be turned off. */
class ArtifactSettingsTest {

    @Test
    void defaultsComeFromReferenceConf() {
        ArtifactSettings s = ArtifactSettings.fromConfig(MeshConfig.load().resolve());
        assertEquals(new ArtifactSettings(Duration.ofMinutes(5), Duration.ofSeconds(20), Duration.ofSeconds(3), 2,
                Duration.ofSeconds(5), Optional.of(Duration.ofMinutes(10))), s);
    }

    @Test
    void scrubIntervalOffDisablesTheScrub() {
        ArtifactSettings s = ArtifactSettings.fromConfig(MeshConfig.load(ConfigFactory.parseString(
                "meshinfer.artifacts.scrub-interval = off")).resolve());
        assertEquals(Optional.empty(), s.scrubInterval());
    }

    @Test
    void nonsenseIsRefusedWithTheKeyNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ArtifactSettings.fromConfig(
                MeshConfig.load(ConfigFactory.parseString("meshinfer.artifacts.max-concurrent-fetches = 0"))
                        .resolve()));
        assertEquals("max-concurrent-fetches must be at least 1, got 0", e.getMessage());
    }
}
