package io.meshinfer.runtime;

import io.meshinfer.api.InferenceException;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Concatenates the inputs of several requests along the batch axis (axis 0) and splits
 * a batched run's outputs back into one result per request. Requests handed to
 * {@link #concat} must share a batch key (equal non-batch dimensions); no state.
 */
public final class BatchAssembler {
    private BatchAssembler() {
    }

    /**
     * One input list holding every request's rows, in order.
     *
     * @param requests the prepared inputs of each request, all in the model's input order
     */
    public static List<NamedTensor> concat(List<List<NamedTensor>> requests) {
        if (requests.size() == 1) {
            return requests.get(0);
        }
        List<NamedTensor> first = requests.get(0);
        List<NamedTensor> out = new ArrayList<>(first.size());
        for (int i = 0; i < first.size(); i++) {
            List<Tensor> parts = new ArrayList<>(requests.size());
            for (List<NamedTensor> r : requests) {
                parts.add(r.get(i).tensor());
            }
            out.add(new NamedTensor(first.get(i).name(), concatRows(parts)));
        }
        return out;
    }

    /** Concatenates tensors of one type along axis 0; their other dimensions must agree. */
    public static Tensor concatRows(List<Tensor> parts) {
        Tensor head = parts.get(0);
        long[] shape = head.shape();
        long rows = 0;
        int total = 0;
        for (Tensor t : parts) {
            if (t.dtype() != head.dtype() || t.rank() != head.rank()) {
                throw new IllegalArgumentException("cannot concatenate " + head + " and " + t);
            }
            for (int d = 1; d < shape.length; d++) {
                if (t.dim(d) != shape[d]) {
                    throw new IllegalArgumentException("cannot concatenate " + head + " and " + t);
                }
            }
            rows += t.dim(0);
            total += t.size();
        }
        shape[0] = rows;
        Object data = head.dtype().newArray(total);
        int offset = 0;
        for (Tensor t : parts) {
            System.arraycopy(t.data(), 0, data, offset, t.size());
            offset += t.size();
        }
        return Tensor.of(head.dtype(), shape, data);
    }

    /**
     * Splits batched outputs into per-request outputs.
     *
     * @param outputs the outputs of one run, each with {@code sum(rows)} rows on axis 0
     * @param rows how many rows each request contributed, in concatenation order
     * @throws InferenceException.ModelFailed if an output's leading dimension is not the
     *     batch size (the model does not keep rows independent)
     */
    public static List<List<NamedTensor>> split(List<NamedTensor> outputs, int[] rows) {
        List<List<NamedTensor>> perRequest = new ArrayList<>(rows.length);
        if (rows.length == 1) {
            perRequest.add(outputs);
            return perRequest;
        }
        long total = 0;
        for (int r : rows) {
            total += r;
        }
        for (int i = 0; i < rows.length; i++) {
            perRequest.add(new ArrayList<>(outputs.size()));
        }
        for (NamedTensor out : outputs) {
            Tensor t = out.tensor();
            if (t.rank() == 0 || t.dim(0) != total) {
                throw new InferenceException.ModelFailed("output '" + out.name() + "' has shape " + t
                        + ", which does not keep the batch of " + total + " rows on axis 0");
            }
            int rowSize = total == 0 ? 0 : (int) (t.size() / total);
            long[] shape = t.shape();
            int offset = 0;
            for (int i = 0; i < rows.length; i++) {
                int n = rows[i] * rowSize;
                Object data = t.dtype().newArray(n);
                System.arraycopy(t.data(), offset, data, 0, n);
                offset += n;
                long[] part = shape.clone();
                part[0] = rows[i];
                perRequest.get(i).add(new NamedTensor(out.name(), Tensor.of(t.dtype(), part, data)));
            }
        }
        return perRequest;
    }
}
