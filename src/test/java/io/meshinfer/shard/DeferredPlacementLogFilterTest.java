package io.meshinfer.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.meshinfer.node.LogFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The node's logback.xml drops the shard coordinator's ERROR for a placement deferred on
 * purpose, and keeps every other line, including other allocation failures.
 */
class DeferredPlacementLogFilterTest {
    private static final String COORDINATOR = "org.apache.pekko.cluster.sharding.DDataShardCoordinator";

    @Test
    void theCoordinatorsErrorForADeferredPlacementIsDroppedAndOtherFailuresStay() {
        LoggerContext context = new LoggerContext();
        LogFormat.configure(context, getClass().getClassLoader().getResource("logback.xml"), "text");
        ListAppender<ILoggingEvent> captured = new ListAppender<>();
        captured.setContext(context);
        captured.start();
        context.getLogger(Logger.ROOT_LOGGER_NAME).addAppender(captured);
        try {
            Logger coordinator = context.getLogger(COORDINATOR);
            coordinator.error("ModelReplica: Shard [late@1#0] allocation failed.",
                    new PlacementStrategy.PlacementDeferred("no node has memory budget left for late@1#0"));
            coordinator.error("ModelReplica: Shard [other@1#0] allocation failed.",
                    new IllegalStateException("something else went wrong"));
            coordinator.warn("a warning of the coordinator's, with a deferral attached",
                    new PlacementStrategy.PlacementDeferred("kept: only its ERROR is dropped"));
            context.getLogger("io.meshinfer.elsewhere").error("the same exception elsewhere",
                    new PlacementStrategy.PlacementDeferred("kept: not the coordinator"));

            List<String> kept = captured.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
            assertEquals(List.of("ModelReplica: Shard [other@1#0] allocation failed.",
                    "a warning of the coordinator's, with a deferral attached", "the same exception elsewhere"), kept);
            assertTrue(context.getTurboFilterList().stream().anyMatch(f -> f instanceof DeferredPlacementLogFilter));
        } finally {
            context.stop();
        }
    }
}
