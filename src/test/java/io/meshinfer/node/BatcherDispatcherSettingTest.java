package io.meshinfer.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;

class BatcherDispatcherSettingTest {
    private static Config with(String value) {
        return ConfigFactory.parseString("meshinfer.batching.stream-dispatcher = \"" + value + "\"")
                .withFallback(MeshConfig.load(ConfigFactory.empty())).resolve();
    }

    @Test
    void theDefaultIsTheRuntimeDispatcher() {
        assertEquals("meshinfer.runtime-dispatcher",
                MeshNode.batcherDispatcher(MeshConfig.load(ConfigFactory.empty()).resolve()));
    }

    @Test
    void emptyMeansPekkosDefault() {
        assertNull(MeshNode.batcherDispatcher(with("")));
    }

    @Test
    void aNameThatIsNoDispatcherIsRefusedBeforeTheNodeStarts() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MeshNode.batcherDispatcher(with("meshinfer.no-such-dispatcher")));
        assertTrue(e.getMessage().contains("'meshinfer.no-such-dispatcher', which is not a dispatcher"),
                e.getMessage());
        // a key that holds a value, not a dispatcher's block
        assertThrows(IllegalArgumentException.class,
                () -> MeshNode.batcherDispatcher(with("meshinfer.batching.max-batch")));
    }
}
