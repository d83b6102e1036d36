package io.meshinfer.api;

/**
 * The typed failure of an inference request, one subclass per {@link ErrorKind}. The
 * Java client completes its futures exceptionally with these; stack traces are not
 * filled in, because they describe the request, not a bug in the caller.
 */
public abstract sealed class InferenceException extends RuntimeException
        permits InferenceException.InvalidInput, InferenceException.ModelNotFound,
        InferenceException.ResidencyViolation, InferenceException.Overloaded,
        InferenceException.Unavailable, InferenceException.DeadlineExceeded,
        InferenceException.ModelFailed, InferenceException.Internal,
        InferenceException.PermissionDenied {

    private InferenceException(String message) {
        super(message, null, false, false);
    }

    public abstract ErrorKind kind();

    public InferenceError toError() {
        return new InferenceError(kind(), getMessage());
    }

    /** The exception class for {@code kind}, carrying {@code message}. */
    public static InferenceException of(ErrorKind kind, String message) {
        return switch (kind) {
            case INVALID_INPUT -> new InvalidInput(message);
            case MODEL_NOT_FOUND -> new ModelNotFound(message);
            case RESIDENCY_VIOLATION -> new ResidencyViolation(message);
            case OVERLOADED -> new Overloaded(message);
            case UNAVAILABLE -> new Unavailable(message);
            case DEADLINE_EXCEEDED -> new DeadlineExceeded(message);
            case MODEL_FAILED -> new ModelFailed(message);
            case INTERNAL -> new Internal(message);
            case PERMISSION_DENIED -> new PermissionDenied(message);
        };
    }

    public static final class InvalidInput extends InferenceException {
        public InvalidInput(String message) {
            super(message);
        }

        @Override
        public ErrorKind kind() {
            return ErrorKind.INVALID_INPUT;
        }
    }

    public static final class ModelNotFound extends InferenceException {
        public ModelNotFound(String message) {
            super(message);
        }

        @Override
        public ErrorKind kind() {
            return ErrorKind.MODEL_NOT_FOUND;
        }
    }

    public static final class ResidencyViolation extends InferenceException {
        public ResidencyViolation(String message) {
            super(message);
        }

        @Override
        public ErrorKind kind() {
            return ErrorKind.RESIDENCY_VIOLATION;
        }
    }

    public static final class Overloaded extends InferenceException {
        public Overloaded(String message) {
            super(message);
        }

        @Override
        public ErrorKind kind() {
            return ErrorKind.OVERLOADED;
        }
    }

    public static final class Unavailable extends InferenceException {
        public Unavailable(String message) {
            super(message);
        }

        @Override
        public ErrorKind kind() {
            return ErrorKind.UNAVAILABLE;
        }
    }

    public static final class DeadlineExceeded extends InferenceException {
        public DeadlineExceeded(String message) {
            super(message);
        }

        @Override
        public ErrorKind kind() {
            return ErrorKind.DEADLINE_EXCEEDED;
        }
    }

    public static final class ModelFailed extends InferenceException {
        public ModelFailed(String message) {
            super(message);
        }

        @Override
        public ErrorKind kind() {
            return ErrorKind.MODEL_FAILED;
        }
    }

    public static final class Internal extends InferenceException {
        public Internal(String message) {
            super(message);
        }

        @Override
        public ErrorKind kind() {
            return ErrorKind.INTERNAL;
        }
    }

    public static final class PermissionDenied extends InferenceException {
        public PermissionDenied(String message) {
            super(message);
        }

        @Override
        public ErrorKind kind() {
            return ErrorKind.PERMISSION_DENIED;
        }
    }
}
