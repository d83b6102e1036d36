package io.meshinfer.gateway;

import io.meshinfer.api.ErrorKind;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;

/** The one place where an error kind becomes an HTTP status. */
public final class ErrorStatus {
    private ErrorStatus() {
    }

    public static StatusCode of(ErrorKind kind) {
        return switch (kind) {
            case INVALID_INPUT -> StatusCodes.BAD_REQUEST;
            case MODEL_NOT_FOUND -> StatusCodes.NOT_FOUND;
            case RESIDENCY_VIOLATION, PERMISSION_DENIED -> StatusCodes.FORBIDDEN;
            case OVERLOADED -> StatusCodes.TOO_MANY_REQUESTS;
            case UNAVAILABLE -> StatusCodes.SERVICE_UNAVAILABLE;
            case DEADLINE_EXCEEDED -> StatusCodes.GATEWAY_TIMEOUT;
            case MODEL_FAILED, INTERNAL -> StatusCodes.INTERNAL_SERVER_ERROR;
        };
    }

    /** The kind an HTTP status stands for (the client side of {@link #of}). */
    public static ErrorKind kindOf(int status) {
        return switch (status) {
            case 400, 413 -> ErrorKind.INVALID_INPUT;
            case 404 -> ErrorKind.MODEL_NOT_FOUND;
            case 403 -> ErrorKind.RESIDENCY_VIOLATION;
            case 429 -> ErrorKind.OVERLOADED;
            case 503 -> ErrorKind.UNAVAILABLE;
            case 504 -> ErrorKind.DEADLINE_EXCEEDED;
            default -> ErrorKind.INTERNAL;
        };
    }
}
