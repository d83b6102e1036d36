package io.meshinfer.runtime;

/** A model file that cannot be served: not ONNX, corrupt, or using types meshinfer does not serve. */
public final class ModelLoadException extends Exception {
    public ModelLoadException(String message) {
        super(message);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
