package io.meshinfer.tensor;

import java.util.List;

/** A tensor with the name of the model input or output it belongs to. */
public record NamedTensor(String name, Tensor tensor) {
    public NamedTensor {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("a tensor needs a name");
        }
        if (tensor == null) {
            throw new IllegalArgumentException("tensor '" + name + "' has no data");
        }
    }

    /** The tensor called {@code name} in {@code tensors}, or null. */
    public static Tensor find(List<NamedTensor> tensors, String name) {
        for (NamedTensor t : tensors) {
            if (t.name.equals(name)) {
                return t.tensor;
            }
        }
        return null;
    }
}
