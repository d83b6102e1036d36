package io.meshinfer.protocol;

import com.typesafe.config.Config;
import io.meshinfer.tensor.Tensor;

/**
 * How much one decoded body may ask of a node, read once from {@code meshinfer.limits}
 * (see reference.conf for the defaults and what each trades off). The decoders check
 * every limit before they allocate what it bounds: a shape is checked before its array
 * exists, a string's length before it becomes a {@code String}, a count before the next
 * element is read. Together with the body size limit they bound the memory and parse time
 * one request can cost.
 *
 * @param maxRank most dimensions of one tensor
 * @param maxDimension largest single dimension
 * @param maxTensorElements most elements of one tensor
 * @param maxRequestElements most elements of all tensors of one body together
 * @param maxRequestBytes most bytes of the data of all tensors of one body together
 * @param maxTensors most tensors in one body ({@code inputs} of a request, {@code outputs}
 *     of a response)
 * @param maxRequestedOutputs most entries in a request's {@code outputs}
 * @param maxNameLength longest tensor name and requested output name, in characters
 * @param maxIdLength longest request {@code id}, in characters
 * @param maxParameterLength longest string parameter ({@code routing_key}, each
 *     {@code residency} region), in characters
 * @param maxResidencyRegions most regions in a request's {@code residency} (and in a
 *     deploy's {@code regions})
 */
public record InputLimits(int maxRank, long maxDimension, long maxTensorElements, long maxRequestElements,
                          long maxRequestBytes, int maxTensors, int maxRequestedOutputs, int maxNameLength,
                          int maxIdLength, int maxParameterLength, int maxResidencyRegions) {
    /**
     * The longest string the JSON parser materializes at all; the string limits may not
     * exceed it. Longer strings fail inside the parser before they are decoded in full.
     */
    public static final int MAX_STRING = 65_536;
    /** The highest rank a tensor may have anywhere in meshinfer (the Kryo serializer's bound). */
    public static final int MAX_RANK = 64;

    public InputLimits {
        requireRange("max-rank", maxRank, 1, MAX_RANK);
        requireRange("max-dimension", maxDimension, 1, Long.MAX_VALUE);
        requireRange("max-tensor-elements", maxTensorElements, 1, Tensor.MAX_ELEMENTS);
        requireRange("max-request-elements", maxRequestElements, 1, Long.MAX_VALUE);
        requireRange("max-request-bytes", maxRequestBytes, 1, Long.MAX_VALUE);
        requireRange("max-inputs", maxTensors, 1, Integer.MAX_VALUE);
        requireRange("max-requested-outputs", maxRequestedOutputs, 1, Integer.MAX_VALUE);
        requireRange("max-name-length", maxNameLength, 1, MAX_STRING);
        requireRange("max-id-length", maxIdLength, 1, MAX_STRING);
        requireRange("max-parameter-length", maxParameterLength, 1, MAX_STRING);
        requireRange("max-residency-regions", maxResidencyRegions, 1, Integer.MAX_VALUE);
    }

    /** The limits under {@code meshinfer.limits} of a full configuration. */
    public static InputLimits fromConfig(Config root) {
        Config c = root.getConfig("meshinfer.limits");
        return new InputLimits(
                c.getInt("max-rank"),
                c.getLong("max-dimension"),
                c.getLong("max-tensor-elements"),
                c.getLong("max-request-elements"),
                c.getBytes("max-request-bytes"),
                c.getInt("max-inputs"),
                c.getInt("max-requested-outputs"),
                c.getInt("max-name-length"),
                c.getInt("max-id-length"),
                c.getInt("max-parameter-length"),
                c.getInt("max-residency-regions"));
    }

    /**
     * Limits that bound only the elements of one tensor (and dimensions by the same
     * number): for clients decoding a server's responses, where the server is trusted to
     * be reasonable and the caller picked the element bound.
     */
    public static InputLimits elementsOnly(long maxElements) {
        return new InputLimits(MAX_RANK, maxElements, maxElements, Long.MAX_VALUE, Long.MAX_VALUE, Integer.MAX_VALUE,
                Integer.MAX_VALUE, MAX_STRING, MAX_STRING, MAX_STRING, Integer.MAX_VALUE);
    }

    private static void requireRange(String key, long value, long min, long max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException("meshinfer.limits." + key + " must be between " + min + " and " + max
                    + ", got " + value);
        }
    }
}
