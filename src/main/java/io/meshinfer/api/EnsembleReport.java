package io.meshinfer.api;

import java.util.List;

/**
 * Which members of an ensemble answered a request ({@code model@version}) and which did not,
 * each missing one as {@code "model: KIND message"}. A response from an ensemble carries one;
 * with the {@code partial} missing-member policy, a non-empty {@code missing} says the answer
 * was combined from fewer members than the ensemble has.
 */
public record EnsembleReport(List<String> answered, List<String> missing) {

    public EnsembleReport {
        answered = List.copyOf(answered);
        missing = List.copyOf(missing);
    }
}
