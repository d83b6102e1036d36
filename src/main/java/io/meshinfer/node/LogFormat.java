package io.meshinfer.node;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.core.joran.spi.JoranException;
import ch.qos.logback.core.status.Status;
import com.typesafe.config.Config;
import java.net.URL;
import java.util.Set;
import org.slf4j.LoggerFactory;

/**
 * Selects the log line format of a node process at start ({@code meshinfer.logging.format}:
 * {@code text} or {@code json}). meshinfer's {@code logback.xml} defines one appender per
 * format and starts the one its {@value #PROPERTY} property names (from the environment
 * when logback starts); when the node's configuration (a flag, a config file) asks for the
 * other format, this reloads that file with the property set. A logging configuration that
 * is not meshinfer's (a test's, or {@code -Dlogback.configurationFile}) is left alone.
 * Call it before anything logs; lines logged while it reloads may be lost.
 */
public final class LogFormat {
    /** The logback property (and environment variable) naming the format. */
    public static final String PROPERTY = "MESHINFER_LOG_FORMAT";
    private static final Set<String> FORMATS = Set.of("text", "json");

    private LogFormat() {
    }

    /**
     * Applies {@code meshinfer.logging.format} to this process's logback configuration.
     *
     * @throws IllegalArgumentException if the format is neither {@code text} nor {@code json}
     */
    public static void apply(Config config) {
        String format = validated(config.getString("meshinfer.logging.format"));
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
            return;
        }
        String active = context.getProperty(PROPERTY);
        URL file = LogFormat.class.getClassLoader().getResource("logback.xml");
        if (active == null || active.equals(format) || file == null
                || System.getProperty("logback.configurationFile") != null) {
            return;
        }
        configure(context, file, format);
    }

    /**
     * Resets {@code context} and configures it from {@code file} with the given format.
     *
     * @throws IllegalStateException if logback reports an error in the file
     */
    public static void configure(LoggerContext context, URL file, String format) {
        validated(format);
        context.reset();
        context.putProperty(PROPERTY, format);
        JoranConfigurator configurator = new JoranConfigurator();
        configurator.setContext(context);
        try {
            configurator.doConfigure(file);
        } catch (JoranException e) {
            throw new IllegalStateException("cannot configure logging from " + file + ": " + e.getMessage(), e);
        }
        for (Status s : context.getStatusManager().getCopyOfStatusList()) {
            if (s.getLevel() == Status.ERROR) {
                throw new IllegalStateException("cannot configure logging from " + file + ": " + s.getMessage());
            }
        }
    }

    private static String validated(String format) {
        if (!FORMATS.contains(format)) {
            throw new IllegalArgumentException("meshinfer.logging.format (--log-format, MESHINFER_LOG_FORMAT) must be"
                    + " 'text' or 'json', not '" + format + "'");
        }
        return format;
    }
}
