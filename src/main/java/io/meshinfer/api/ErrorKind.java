package io.meshinfer.api;

/**
 * Every way an accepted request can fail. Each kind maps to one HTTP status (in the
 * gateway) and to one exception class (in {@link InferenceException#of}).
 */
public enum ErrorKind {
    /** The request does not fit the model: names, types, shapes, sizes, malformed body. */
    INVALID_INPUT,
    /** No such model or version is deployed. */
    MODEL_NOT_FOUND,
    /** The request's residency forbids every replica that could serve it. */
    RESIDENCY_VIOLATION,
    /** The replica's queue is full; retry later or elsewhere. */
    OVERLOADED,
    /** No replica can serve the request now (loading, stopping, unreachable). */
    UNAVAILABLE,
    /** The request's deadline passed before it could be answered. */
    DEADLINE_EXCEEDED,
    /** The model itself failed on this input (ONNX Runtime raised an error). */
    MODEL_FAILED,
    /** An unexpected failure inside meshinfer. */
    INTERNAL,
    /** The caller's token does not allow this model or action (last: kinds cross the wire by ordinal). */
    PERMISSION_DENIED
}
