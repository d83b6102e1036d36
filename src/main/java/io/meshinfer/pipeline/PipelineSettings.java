package io.meshinfer.pipeline;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * How pipeline requests are chained, read once from {@code meshinfer.pipeline}.
 *
 * @param stageRetryBackoff the pause before a stage whose replicas all answered
 *     {@code OVERLOADED} or {@code UNAVAILABLE} is asked again (while the deadline allows)
 */
public record PipelineSettings(Duration stageRetryBackoff) {

    public static PipelineSettings fromConfig(Config root) {
        Config p = root.getConfig("meshinfer.pipeline");
        return new PipelineSettings(p.getDuration("stage-retry-backoff"));
    }
}
