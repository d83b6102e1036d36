package io.meshinfer.partition;

/**
 * A model that cannot be split as asked: it is unreadable, not a valid graph, or the request
 * does not fit it (stage count, cut names). The message says what and where.
 */
public class PartitionException extends Exception {
    public PartitionException(String message) {
        super(message);
    }

    public PartitionException(String message, Throwable cause) {
        super(message, cause);
    }

    /** The split was made but the chain of stages does not reproduce the whole model. */
    public static final class ChainMismatch extends PartitionException {
        public ChainMismatch(String message) {
            super(message);
        }

        public ChainMismatch(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
