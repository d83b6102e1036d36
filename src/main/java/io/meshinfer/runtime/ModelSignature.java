package io.meshinfer.runtime;

import io.meshinfer.api.InferenceException;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The inputs and outputs of a model and whether requests to it can be batched.
 *
 * <p>A model is batchable only when every input and every output has a dynamic leading
 * dimension with the same symbolic name: then that axis is the batch axis and requests
 * whose other dimensions agree can be concatenated along it. Any other model (fixed
 * leading dimensions, batch on another axis, rank-0 inputs) runs one request at a time.
 */
public record ModelSignature(List<TensorSpec> inputs, List<TensorSpec> outputs, String batchSymbol) {

    public ModelSignature {
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
        batchSymbol = batchSymbol == null ? "" : batchSymbol;
    }

    /** The signature of a model with these inputs and outputs, finding its batch axis. */
    public static ModelSignature of(List<TensorSpec> inputs, List<TensorSpec> outputs) {
        return new ModelSignature(inputs, outputs, findBatchSymbol(inputs, outputs));
    }

    private static String findBatchSymbol(List<TensorSpec> inputs, List<TensorSpec> outputs) {
        if (inputs.isEmpty() || outputs.isEmpty()) {
            return "";
        }
        String symbol = null;
        List<TensorSpec> all = new ArrayList<>(inputs);
        all.addAll(outputs);
        for (TensorSpec spec : all) {
            if (spec.rank() == 0) {
                return "";
            }
            TensorSpec.Dim lead = spec.shape().get(0);
            if (!lead.isDynamic() || lead.symbol().isEmpty()) {
                return "";
            }
            if (symbol == null) {
                symbol = lead.symbol();
            } else if (!symbol.equals(lead.symbol())) {
                return "";
            }
        }
        return symbol;
    }

    /** Whether requests can share a run, concatenated along axis 0. */
    public boolean batchable() {
        return !batchSymbol.isEmpty();
    }

    public TensorSpec input(String name) {
        return find(inputs, name);
    }

    public TensorSpec output(String name) {
        return find(outputs, name);
    }

    private static TensorSpec find(List<TensorSpec> specs, String name) {
        for (TensorSpec s : specs) {
            if (s.name().equals(name)) {
                return s;
            }
        }
        return null;
    }

    /**
     * Checks a request against this signature and puts its inputs in the model's order.
     *
     * @param given the request's inputs
     * @param requestedOutputs output names to return; empty for all
     * @param maxBytes the largest total size of the inputs' data
     * @throws InferenceException.InvalidInput naming the first thing that does not fit
     */
    public Prepared prepare(List<NamedTensor> given, List<String> requestedOutputs, long maxBytes) {
        List<NamedTensor> ordered = inModelOrder(given);
        if (ordered == null) {
            ordered = reorder(given);
        }
        long bytes = 0;
        for (NamedTensor t : ordered) {
            bytes += t.tensor().byteSize();
        }
        if (bytes > maxBytes) {
            throw invalid("inputs hold " + bytes + " bytes, more than the limit of " + maxBytes);
        }
        // symbols are only compared across inputs: a single-input model needs no table
        Map<String, Long> symbols = inputs.size() > 1 ? new HashMap<>() : null;
        Map<String, String> symbolSource = inputs.size() > 1 ? new HashMap<>() : null;
        StringBuilder key = null;
        for (int i = 0; i < inputs.size(); i++) {
            TensorSpec spec = inputs.get(i);
            Tensor t = ordered.get(i).tensor();
            checkTensor(spec, t, symbols, symbolSource);
            // fixed dimensions are equal in every valid request: only dynamic ones tell batches apart
            for (int d = 1; d < t.rank(); d++) {
                if (spec.shape().get(d).isDynamic()) {
                    if (key == null) {
                        key = new StringBuilder();
                    }
                    key.append(spec.name()).append(':').append(d).append('=').append(t.dim(d)).append(';');
                }
            }
        }
        if (!requestedOutputs.isEmpty()) {
            for (String name : requestedOutputs) {
                if (output(name) == null) {
                    throw invalid("unknown output '" + name + "' (model outputs: " + names(outputs) + ")");
                }
            }
            if (new HashSet<>(requestedOutputs).size() != requestedOutputs.size()) {
                throw invalid("an output is requested twice: " + requestedOutputs);
            }
        }
        int rows = batchable() ? (int) ordered.get(0).tensor().dim(0) : 1;
        return new Prepared(ordered, rows, batchable() && key != null ? key.toString() : "",
                List.copyOf(requestedOutputs));
    }

    /** {@code given} itself when it names exactly the model's inputs in the model's order (the usual case). */
    private List<NamedTensor> inModelOrder(List<NamedTensor> given) {
        if (given.size() != inputs.size()) {
            return null;
        }
        for (int i = 0; i < given.size(); i++) {
            if (!given.get(i).name().equals(inputs.get(i).name())) {
                return null;
            }
        }
        return given;
    }

    /** The inputs in the model's order; refuses duplicates, unknown and missing inputs. */
    private List<NamedTensor> reorder(List<NamedTensor> given) {
        Map<String, Tensor> byName = new HashMap<>();
        for (NamedTensor t : given) {
            if (byName.put(t.name(), t.tensor()) != null) {
                throw invalid("duplicate input '" + t.name() + "'");
            }
            if (input(t.name()) == null) {
                throw invalid("unexpected input '" + t.name() + "' (model inputs: " + names(inputs) + ")");
            }
        }
        List<NamedTensor> ordered = new ArrayList<>(inputs.size());
        for (TensorSpec spec : inputs) {
            Tensor t = byName.get(spec.name());
            if (t == null) {
                throw invalid("missing input '" + spec.name() + "' (model inputs: " + names(inputs) + ")");
            }
            ordered.add(new NamedTensor(spec.name(), t));
        }
        return ordered;
    }

    private static void checkTensor(TensorSpec spec, Tensor t, Map<String, Long> symbols,
                                    Map<String, String> symbolSource) {
        if (t.dtype() != spec.dtype()) {
            throw invalid("input '" + spec.name() + "': datatype " + t.dtype()
                    + " does not match the model's " + spec.dtype());
        }
        int rank = t.rank();
        if (rank != spec.rank()) {
            throw invalid("input '" + spec.name() + "': shape " + Arrays.toString(t.shape()) + " has rank "
                    + rank + ", the model expects rank " + spec.rank() + " " + spec.shapeString());
        }
        for (int d = 0; d < rank; d++) {
            TensorSpec.Dim dim = spec.shape().get(d);
            long size = t.dim(d);
            if (!dim.isDynamic()) {
                if (dim.size() != size) {
                    throw invalid("input '" + spec.name() + "': shape " + Arrays.toString(t.shape())
                            + " does not match the model's " + spec.shapeString()
                            + " (dimension " + d + " must be " + dim.size() + ")");
                }
            } else if (symbols != null && !dim.symbol().isEmpty()) {
                Long seen = symbols.putIfAbsent(dim.symbol(), size);
                if (seen == null) {
                    symbolSource.put(dim.symbol(), spec.name());
                } else if (seen != size) {
                    throw invalid("input '" + spec.name() + "': dimension '" + dim.symbol() + "' is " + size
                            + ", but " + seen + " in input '" + symbolSource.get(dim.symbol()) + "'");
                }
            }
        }
    }

    private static String names(List<TensorSpec> specs) {
        return specs.stream().map(TensorSpec::name).collect(Collectors.joining(", "));
    }

    private static InferenceException.InvalidInput invalid(String message) {
        return new InferenceException.InvalidInput(message);
    }

    /**
     * A request that fits the signature: inputs in the model's order, the number of rows
     * it adds to a batch (1 for a model that cannot batch), the key requests must share to
     * be batched together (their non-batch dimensions), and the outputs to return.
     */
    public record Prepared(List<NamedTensor> inputs, int rows, String batchKey, List<String> outputs) {
        public Set<String> outputSet() {
            return Set.copyOf(outputs);
        }
    }
}
