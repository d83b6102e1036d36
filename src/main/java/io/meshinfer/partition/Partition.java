package io.meshinfer.partition;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * An accepted split of one model into stages: the stage models, what crosses each cut, the
 * estimated cost of each stage and the result of the chain check. Immutable.
 *
 * @param sourceSha256 the sha256 of the whole model's file
 * @param sourceBytes its size
 * @param selection "balanced" (cut points chosen) or "explicit" (given as tensor names)
 * @param balanceTolerance for "balanced": how far above the best achievable maximum stage
 *     cost a split may go to send fewer bytes across its cuts
 */
public record Partition(String sourceSha256, long sourceBytes, int sourceNodes, String selection,
                        double balanceTolerance, List<Stage> stages, List<Cut> cuts, Check check) {

    /** The manifest's file name in the output directory. */
    public static final String MANIFEST = "stages.json";
    /** The manifest format, so later readers can tell versions apart. */
    public static final String FORMAT = "meshinfer-stages/1";

    public Partition {
        stages = List.copyOf(stages);
        cuts = List.copyOf(cuts);
    }

    /** A tensor at a stage boundary: name, datatype ("FP32"), declared shape (["batch", 1024]) and bytes per sample. */
    public record StageTensor(String name, String datatype, List<Object> shape, long bytesPerSample) {
        public StageTensor {
            shape = List.copyOf(shape);
        }
    }

    /**
     * One stage: its ONNX model, the graph nodes it runs, what it takes and gives, the bytes
     * of its initializers and its estimated FLOPs per sample.
     */
    public record Stage(int index, ByteString onnx, String sha256, int nodes, String firstNode, String lastNode,
                        List<StageTensor> inputs, List<StageTensor> outputs, long parameterBytes,
                        long flopsPerSample) {
        public Stage {
            inputs = List.copyOf(inputs);
            outputs = List.copyOf(outputs);
        }

        /** The file name of this stage in the output directory. */
        public String fileName() {
            return "stage-" + index + ".onnx";
        }

        /** A copy of the stage model's bytes. */
        public byte[] bytes() {
            return onnx.toByteArray();
        }
    }

    /**
     * The boundary between stage {@code index} and {@code index + 1}: after node
     * {@code afterNode} (the {@code position}-th in topological order), with the tensors
     * that cross it.
     */
    public record Cut(int index, int position, String afterNode, List<StageTensor> tensors, long bytesPerSample) {
        public Cut {
            tensors = List.copyOf(tensors);
        }
    }

    /**
     * The chain check: {@code runs} comparisons of the chained stages with the whole model
     * ({@code samples} seeded samples at each batch size), the largest absolute difference of
     * any floating-point output element and the largest difference relative to
     * max(1, |expected|); integer and boolean outputs were equal.
     */
    public record Check(int samples, List<Integer> batchSizes, int runs, double maxAbsDiff, double maxRelDiff,
                        double tolerance) {
        public Check {
            batchSizes = List.copyOf(batchSizes);
        }
    }

    /** The lowercase hex sha256 of {@code bytes}, as artifacts are named. */
    public static String sha256(byte[] bytes) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }

    /** Estimated FLOPs per sample of the most and the least expensive stage, as max / min. */
    public double costRatio() {
        long max = 0;
        long min = Long.MAX_VALUE;
        for (Stage s : stages) {
            max = Math.max(max, s.flopsPerSample());
            min = Math.min(min, s.flopsPerSample());
        }
        return min == 0 ? Double.POSITIVE_INFINITY : (double) max / min;
    }

    /** The manifest written as {@value #MANIFEST}. */
    public Manifest manifest() {
        List<Manifest.StageEntry> entries = new ArrayList<>();
        for (Stage s : stages) {
            entries.add(new Manifest.StageEntry(s.index(), s.fileName(), s.sha256(), s.onnx().size(), s.nodes(),
                    s.firstNode(), s.lastNode(), s.inputs(), s.outputs(), s.parameterBytes(), s.flopsPerSample(),
                    s.outputs().stream().mapToLong(StageTensor::bytesPerSample).sum()));
        }
        return new Manifest(FORMAT, new Manifest.Source(sourceSha256, sourceBytes, sourceNodes), selection,
                selection.equals("balanced") ? balanceTolerance : null, entries, cuts, check);
    }

    /**
     * Writes {@code stage-0.onnx} ... {@code stage-(K-1).onnx} and {@value #MANIFEST} into
     * {@code dir}, creating it if needed; the manifest last, so a directory with a manifest is
     * complete. Over an earlier split (a directory with a manifest), its stage files beyond
     * this split's K are deleted.
     */
    public void write(Path dir) throws IOException {
        Files.createDirectories(dir);
        if (Files.exists(dir.resolve(MANIFEST))) {
            // an earlier split written here: its extra stage files would read as part of this one
            try (var old = Files.newDirectoryStream(dir, "stage-*.onnx")) {
                for (Path f : old) {
                    String n = f.getFileName().toString();
                    String index = n.substring("stage-".length(), n.length() - ".onnx".length());
                    if (index.matches("[0-9]{1,6}") && Integer.parseInt(index) >= stages.size()) {
                        Files.delete(f);
                    }
                }
            }
            Files.delete(dir.resolve(MANIFEST));
        }
        for (Stage s : stages) {
            try (var out = Files.newOutputStream(dir.resolve(s.fileName()))) {
                s.onnx().writeTo(out);
            }
        }
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        Files.write(dir.resolve(MANIFEST), mapper.writeValueAsBytes(manifest()));
    }

    /**
     * The stage manifest ({@value #MANIFEST}): the source model's sha256, every stage's file,
     * sha256, inputs and outputs (in the order the stage declares them), estimated cost and
     * the bytes it hands to the next stage per sample, the cuts and the chain check.
     */
    public record Manifest(String format, Source source, String selection, Double balanceTolerance,
                           List<StageEntry> stages, List<Cut> cuts, Check check) {
        /** The whole model. */
        public record Source(String sha256, long bytes, int nodes) {
        }

        /** One stage file. */
        public record StageEntry(int index, String file, String sha256, long bytes, int nodes, String firstNode,
                                 String lastNode, List<StageTensor> inputs, List<StageTensor> outputs,
                                 long parameterBytes, long estimatedFlopsPerSample, long outputBytesPerSample) {
        }
    }
}
