package io.meshinfer.registry;

import io.meshinfer.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * Reference inputs of a model version and the outputs it must produce for them, carried
 * in the version's manifest so that every node checks its own session against them before
 * it serves (consistency attestation, see {@link Attestor}). Each {@link Sample} is one
 * run: its inputs by input name (one row, or a batch) and the expected outputs by output
 * name (every output of the model, or some). Floating-point outputs must match within
 * {@code tolerance}, an absolute difference; integer and boolean outputs exactly.
 *
 * <p>{@code source} says where they came from: {@link #SUPPLIED} by whoever deployed the
 * version, or {@code "recorded by <node>"} (see {@link #recordedBy}) on the node that
 * received the deploy.
 *
 * <p>Tensors hold arrays and compare by identity, so this record does too: compare
 * content with {@link #contentEquals}.
 */
public record GoldenVectors(List<Sample> samples, double tolerance, String source) {
    /** The source of golden vectors sent with the deploy. */
    public static final String SUPPLIED = "supplied";

    /** One run: inputs by name and the outputs expected for them by name. */
    public record Sample(Map<String, Tensor> inputs, Map<String, Tensor> outputs) {
        public Sample {
            inputs = Map.copyOf(inputs);
            outputs = Map.copyOf(outputs);
            if (inputs.isEmpty() || outputs.isEmpty()) {
                throw new IllegalArgumentException("a golden sample needs inputs and expected outputs");
            }
        }

        /** Bytes of raw tensor data in this sample, inputs and outputs. */
        public long byteSize() {
            long bytes = 0;
            for (Tensor t : inputs.values()) {
                bytes += t.byteSize();
            }
            for (Tensor t : outputs.values()) {
                bytes += t.byteSize();
            }
            return bytes;
        }

        boolean contentEquals(Sample other) {
            return sameTensors(inputs, other.inputs) && sameTensors(outputs, other.outputs);
        }

        private static boolean sameTensors(Map<String, Tensor> a, Map<String, Tensor> b) {
            if (!a.keySet().equals(b.keySet())) {
                return false;
            }
            for (Map.Entry<String, Tensor> e : a.entrySet()) {
                if (!e.getValue().contentEquals(b.get(e.getKey()))) {
                    return false;
                }
            }
            return true;
        }
    }

    public GoldenVectors {
        samples = List.copyOf(samples);
        if (samples.isEmpty()) {
            throw new IllegalArgumentException("golden vectors need at least one sample");
        }
        if (!(tolerance >= 0) || Double.isInfinite(tolerance)) {
            throw new IllegalArgumentException("the golden-vector tolerance must be a finite number >= 0, not "
                    + tolerance);
        }
        if (source == null || source.isEmpty()) {
            throw new IllegalArgumentException("golden vectors need a source");
        }
    }

    /** The source of golden vectors recorded on {@code node}. */
    public static String recordedBy(String node) {
        return "recorded by " + node;
    }

    /** Bytes of raw tensor data over every sample. */
    public long byteSize() {
        long bytes = 0;
        for (Sample s : samples) {
            bytes += s.byteSize();
        }
        return bytes;
    }

    /** Same samples (tensor content, not identity), tolerance and source. */
    public boolean contentEquals(GoldenVectors other) {
        if (other == null || samples.size() != other.samples.size()
                || Double.compare(tolerance, other.tolerance) != 0 || !source.equals(other.source)) {
            return false;
        }
        for (int i = 0; i < samples.size(); i++) {
            if (!samples.get(i).contentEquals(other.samples.get(i))) {
                return false;
            }
        }
        return true;
    }
}
