package io.meshinfer.ensemble;

import io.meshinfer.registry.EnsembleSpec.Combine;
import io.meshinfer.runtime.ModelSignature;
import io.meshinfer.runtime.TensorSpec;
import io.meshinfer.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The deploy-time check of an ensemble: whether its members' signatures fit together under
 * its combine mode, and the ensemble's own signature if they do. Members must take the same
 * inputs (names, types, ranks, and equal sizes where both fix a dimension) and give the same
 * output names; then per output: {@code mean} and {@code weighted_mean} need FP32 or FP64 of one
 * type and equal shapes; {@code vote} needs class scores (floating point, rank at least 1) or
 * integer or boolean labels, alike in every member; {@code concat} needs one type and equal
 * dimensions but the last. What symbolic dimensions hide is checked again on every answer
 * ({@link Combiner}). Pure; no Pekko.
 */
public final class EnsembleSignature {
    private EnsembleSignature() {
    }

    /**
     * @param labels a name for each member, for messages
     * @throws IllegalArgumentException saying which member and tensor do not fit
     */
    public static ModelSignature derive(Combine mode, List<ModelSignature> members, List<String> labels) {
        ModelSignature first = members.get(0);
        List<TensorSpec> inputs = new ArrayList<>(first.inputs());
        Map<String, TensorSpec> outputs = new TreeMap<>();
        first.outputs().forEach(o -> outputs.put(o.name(), o));
        for (int k = 1; k < members.size(); k++) {
            ModelSignature m = members.get(k);
            String who = "member '" + labels.get(k) + "'";
            if (m.inputs().size() != inputs.size()) {
                throw new IllegalArgumentException(who + " takes " + names(m.inputs()) + ", member '" + labels.get(0)
                        + "' takes " + names(first.inputs()) + ": every member must take the same inputs");
            }
            for (int i = 0; i < inputs.size(); i++) {
                TensorSpec have = inputs.get(i);
                TensorSpec other = m.input(have.name());
                if (other == null) {
                    throw new IllegalArgumentException(who + " has no input '" + have.name() + "' (it takes "
                            + names(m.inputs()) + "): every member must take the same inputs");
                }
                inputs.set(i, merged("input", who, have, other));
            }
            if (m.outputs().size() != outputs.size()) {
                throw new IllegalArgumentException(who + " gives " + names(m.outputs()) + ", member '" + labels.get(0)
                        + "' gives " + names(first.outputs()) + ": every member must give the same outputs");
            }
            for (TensorSpec o : m.outputs()) {
                TensorSpec have = outputs.get(o.name());
                if (have == null) {
                    throw new IllegalArgumentException(who + " gives output '" + o.name() + "', which member '"
                            + labels.get(0) + "' does not: every member must give the same outputs");
                }
                outputs.put(o.name(), mode == Combine.CONCAT ? concatenated(who, have, o)
                        : merged("output", who, have, o));
            }
        }
        List<TensorSpec> combined = new ArrayList<>();
        for (TensorSpec o : first.outputs()) {
            combined.add(combinedOutput(mode, outputs.get(o.name())));
        }
        return ModelSignature.of(inputs, combined);
    }

    private static TensorSpec combinedOutput(Combine mode, TensorSpec o) {
        switch (mode) {
            case MEAN, WEIGHTED_MEAN -> {
                if (!o.dtype().isFloatingPoint()) {
                    throw new IllegalArgumentException("combine " + mode.wireName() + " needs FP32 or FP64 outputs;"
                            + " output '" + o.name() + "' is " + o.dtype());
                }
                return o;
            }
            case VOTE -> {
                if (o.dtype().isFloatingPoint()) {
                    if (o.rank() == 0) {
                        throw new IllegalArgumentException("combine vote needs class scores along a last axis, or"
                                + " integer labels; output '" + o.name() + "' is a scalar " + o.dtype());
                    }
                    return new TensorSpec(o.name(), DType.INT64, o.shape().subList(0, o.rank() - 1));
                }
                return new TensorSpec(o.name(), DType.INT64, o.shape());
            }
            default -> {
                if (o.rank() == 0) {
                    throw new IllegalArgumentException("combine concat needs outputs with an axis; output '"
                            + o.name() + "' is a scalar");
                }
                return o;
            }
        }
    }

    /** The more specific of two specs of one tensor, or why they differ. */
    private static TensorSpec merged(String kind, String who, TensorSpec a, TensorSpec b) {
        sameTypeAndRank(kind, who, a, b);
        List<TensorSpec.Dim> dims = new ArrayList<>(a.rank());
        for (int d = 0; d < a.rank(); d++) {
            TensorSpec.Dim x = a.shape().get(d);
            TensorSpec.Dim y = b.shape().get(d);
            if (!x.isDynamic() && !y.isDynamic() && x.size() != y.size()) {
                throw new IllegalArgumentException(who + ": " + kind + " '" + a.name() + "' has shape "
                        + b.shapeString() + ", another member's " + a.shapeString() + ": the shapes must agree");
            }
            dims.add(x.isDynamic() ? y : x);
        }
        return new TensorSpec(a.name(), a.dtype(), dims);
    }

    /** {@code a} and {@code b} side by side along the last axis. */
    private static TensorSpec concatenated(String who, TensorSpec a, TensorSpec b) {
        sameTypeAndRank("output", who, a, b);
        if (a.rank() == 0) {
            throw new IllegalArgumentException("combine concat needs outputs with an axis; output '" + a.name()
                    + "' is a scalar");
        }
        int last = a.rank() - 1;
        TensorSpec head = merged("output", who, new TensorSpec(a.name(), a.dtype(), a.shape().subList(0, last)),
                new TensorSpec(b.name(), b.dtype(), b.shape().subList(0, last)));
        List<TensorSpec.Dim> dims = new ArrayList<>(head.shape());
        TensorSpec.Dim x = a.shape().get(last);
        TensorSpec.Dim y = b.shape().get(last);
        dims.add(x.isDynamic() || y.isDynamic() ? TensorSpec.Dim.symbolic("")
                : TensorSpec.Dim.fixed(x.size() + y.size()));
        return new TensorSpec(a.name(), a.dtype(), dims);
    }

    private static void sameTypeAndRank(String kind, String who, TensorSpec a, TensorSpec b) {
        if (a.dtype() != b.dtype() || a.rank() != b.rank()) {
            throw new IllegalArgumentException(who + ": " + kind + " '" + a.name() + "' is " + b.dtype() + " "
                    + b.shapeString() + ", another member's is " + a.dtype() + " " + a.shapeString()
                    + ": types and ranks must agree");
        }
    }

    private static List<String> names(List<TensorSpec> specs) {
        return specs.stream().map(TensorSpec::name).toList();
    }
}
