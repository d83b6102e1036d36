package io.meshinfer.bench;

/**
 * The outcome of one benchmark request: success with the rows of the batch it ran in
 * (0 when the target does not say), or the kind of error.
 */
public record Sample(boolean ok, String error, int batchRows) {
    public static Sample success(int batchRows) {
        return new Sample(true, null, batchRows);
    }

    public static Sample failure(String error) {
        return new Sample(false, error, 0);
    }
}
