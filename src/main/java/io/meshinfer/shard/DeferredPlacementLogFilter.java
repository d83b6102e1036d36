package io.meshinfer.shard;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import org.slf4j.Marker;

/**
 * Drops the shard coordinator's ERROR line for a placement this node's strategy deferred on
 * purpose ({@link PlacementStrategy.PlacementDeferred}: no room, no eligible node, a manifest
 * not yet arrived). Pekko logs every failed allocation at ERROR and retries; a replica waiting
 * hours for room would log one every few seconds. The strategy warns once per version instead,
 * and {@code meshinfer_placement_deferred_total} counts every deferral. Any other allocation
 * failure still logs. Registered in {@code logback.xml}.
 */
public final class DeferredPlacementLogFilter extends TurboFilter {
    @Override
    public FilterReply decide(Marker marker, Logger logger, Level level, String format, Object[] params,
                              Throwable t) {
        return t instanceof PlacementStrategy.PlacementDeferred && level == Level.ERROR
                && logger.getName().startsWith("org.apache.pekko.cluster.sharding.")
                ? FilterReply.DENY : FilterReply.NEUTRAL;
    }
}
