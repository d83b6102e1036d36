package io.meshinfer.api;

/** A typed failure as a value, the form in which errors cross the cluster. */
public record InferenceError(ErrorKind kind, String message) {
    public InferenceError {
        if (kind == null) {
            throw new IllegalArgumentException("kind is required");
        }
        message = message == null ? kind.name() : message;
    }

    public InferenceException toException() {
        return InferenceException.of(kind, message);
    }
}
