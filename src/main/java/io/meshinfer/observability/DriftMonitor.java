package io.meshinfer.observability;

import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drift of one model version's traffic on this node, against a reference profile made of
 * the first values this node saw for it. Per numeric input: a histogram over the reference's
 * quantiles, mean and variance, over a sliding window of the last one to two blocks of
 * values; per classifier output (rank 2 or more, more than one class): the frequencies of
 * the predicted class, in sampled rows. The population stability index (PSI) of each
 * compares window and reference; a feature above the threshold flags the version, with a
 * warning logged when the flag is raised and when it clears.
 *
 * <p>Memory is fixed per feature (reference buffer until the profile is made, then a few
 * arrays of {@code bins} or {@code maxClasses}); no payload is kept beyond those sampled
 * values. Thread-safe (one lock per version; the work per request is a few dozen values).
 */
public final class DriftMonitor {
    private static final Logger log = LoggerFactory.getLogger(DriftMonitor.class);
    private static final double EPSILON = 1e-4;
    /** The flag (and its log line) is re-evaluated every this many requests. */
    private static final int FLAG_EVERY = 64;

    /** What one feature shows now. */
    public record Feature(String name, String kind, boolean referenceReady, long windowSamples, double psi,
                          double mean, double std, double referenceMean, double referenceStd) {
    }

    /** What a version shows now on this node. */
    public record Status(String model, String version, boolean drifted, double maxPsi, List<Feature> features) {
    }

    private final String model;
    private final String version;
    private final DriftSettings settings;
    private final Map<String, Numeric> inputs = new LinkedHashMap<>();
    private final Map<String, Classes> outputs = new LinkedHashMap<>();
    private boolean drifted;
    private long observed;

    DriftMonitor(String model, String version, DriftSettings settings) {
        this.model = model;
        this.version = version;
        this.settings = settings;
    }

    /** Records one answered request's inputs and outputs. */
    public synchronized void observe(List<NamedTensor> in, List<NamedTensor> out) {
        for (NamedTensor t : in) {
            Numeric f = inputs.get(t.name());
            if (f == null) {
                if (!numeric(t.tensor().dtype()) || inputs.size() + outputs.size() >= settings.maxFeatures()) {
                    continue;
                }
                f = new Numeric();
                inputs.put(t.name(), f);
            }
            f.observe(t.tensor());
        }
        for (NamedTensor t : out) {
            Tensor y = t.tensor();
            if (y.rank() < 2 || y.dim(y.rank() - 1) < 2 || y.dim(y.rank() - 1) > settings.maxClasses()
                    || !numeric(y.dtype())) {
                continue;
            }
            Classes c = outputs.get(t.name());
            if (c == null) {
                if (inputs.size() + outputs.size() >= settings.maxFeatures()) {
                    continue;
                }
                c = new Classes((int) y.dim(y.rank() - 1));
                outputs.put(t.name(), c);
            }
            c.observe(y);
        }
        if (++observed % FLAG_EVERY != 0) {
            return;
        }
        boolean now = status().drifted();
        if (now != drifted) {
            drifted = now;
            if (now) {
                log.warn("drift: {}@{} crossed the PSI threshold {}: {}", model, version, settings.psiThreshold(),
                        describe());
            } else {
                log.info("drift: {}@{} is back under the PSI threshold {}", model, version, settings.psiThreshold());
            }
        }
    }

    /** The stride that visits at most samples-per-tensor of {@code count} items, evenly spread. */
    private int strideFor(int count) {
        int samples = Math.max(1, settings.samplesPerTensor());
        return Math.max(1, (int) ((count + (long) samples - 1) / samples));
    }

    private static boolean numeric(DType t) {
        return t != DType.BOOL;
    }

    public synchronized Status status() {
        List<Feature> features = new ArrayList<>();
        double max = 0;
        for (Map.Entry<String, Numeric> e : inputs.entrySet()) {
            Feature f = e.getValue().feature(e.getKey());
            features.add(f);
            max = Double.isNaN(f.psi()) ? max : Math.max(max, f.psi());
        }
        for (Map.Entry<String, Classes> e : outputs.entrySet()) {
            Feature f = e.getValue().feature(e.getKey());
            features.add(f);
            max = Double.isNaN(f.psi()) ? max : Math.max(max, f.psi());
        }
        return new Status(model, version, max > settings.psiThreshold(), max, features);
    }

    private String describe() {
        StringBuilder b = new StringBuilder();
        for (Feature f : status().features()) {
            b.append(String.format(java.util.Locale.ROOT, "%s %s psi %.3f (mean %.3g, reference %.3g); ", f.kind(),
                    f.name(), f.psi(), f.mean(), f.referenceMean()));
        }
        return b.toString();
    }

    /** Population stability index of {@code actual} against {@code expected} counts. */
    static double psi(long[] expected, long[] actual) {
        long e = 0;
        long a = 0;
        for (int i = 0; i < expected.length; i++) {
            e += expected[i];
            a += actual[i];
        }
        if (e == 0 || a == 0) {
            return Double.NaN;
        }
        double psi = 0;
        for (int i = 0; i < expected.length; i++) {
            double pe = Math.max(EPSILON, (double) expected[i] / e);
            double pa = Math.max(EPSILON, (double) actual[i] / a);
            psi += (pa - pe) * Math.log(pa / pe);
        }
        return psi;
    }

    /** A numeric input: reference quantile bins, then a two-block sliding window. */
    private final class Numeric {
        private double[] reference = new double[settings.referenceSamples()];
        private int referenceCount;
        private double[] edges;
        private long[] referenceCounts;
        private double referenceMean;
        private double referenceStd;
        private final Block[] blocks = {new Block(), new Block()};
        private int current;

        void observe(Tensor t) {
            int size = t.size();
            if (size == 0) {
                return;
            }
            int step = strideFor(size);
            for (int i = 0; i < size; i += step) {
                double v = t.getAsDouble(i);
                if (Double.isNaN(v) || Double.isInfinite(v)) {
                    continue;
                }
                if (edges == null) {
                    reference[referenceCount++] = v;
                    if (referenceCount == reference.length) {
                        makeProfile();
                    }
                } else {
                    Block b = blocks[current];
                    if (b.n >= settings.blockSamples()) {
                        current = 1 - current;
                        b = blocks[current];
                        b.clear();
                    }
                    b.add(bin(v), v);
                }
            }
        }

        private void makeProfile() {
            double[] sorted = Arrays.copyOf(reference, referenceCount);
            Arrays.sort(sorted);
            int bins = settings.bins();
            double[] e = new double[bins - 1];
            for (int i = 1; i < bins; i++) {
                e[i - 1] = sorted[Math.min(sorted.length - 1, (int) ((long) i * sorted.length / bins))];
            }
            edges = e;
            referenceCounts = new long[bins];
            double sum = 0;
            double sumSq = 0;
            for (double v : sorted) {
                referenceCounts[bin(v)]++;
                sum += v;
                sumSq += v * v;
            }
            referenceMean = sum / sorted.length;
            referenceStd = Math.sqrt(Math.max(0, sumSq / sorted.length - referenceMean * referenceMean));
            reference = null; // the raw values are not kept
        }

        private int bin(double v) {
            int i = Arrays.binarySearch(edges, v);
            if (i < 0) {
                return -i - 1;
            }
            while (i < edges.length && edges[i] == v) {
                i++; // values equal to an edge go to the bin above it, as in the reference
            }
            return i;
        }

        Feature feature(String name) {
            if (edges == null) {
                return new Feature(name, "input", false, 0, Double.NaN, Double.NaN, Double.NaN, Double.NaN,
                        Double.NaN);
            }
            long[] window = new long[referenceCounts.length];
            long n = 0;
            double sum = 0;
            double sumSq = 0;
            for (Block b : blocks) {
                for (int i = 0; i < window.length; i++) {
                    window[i] += b.counts[i];
                }
                n += b.n;
                sum += b.sum;
                sumSq += b.sumSq;
            }
            double mean = n == 0 ? Double.NaN : sum / n;
            double std = n == 0 ? Double.NaN : Math.sqrt(Math.max(0, sumSq / n - mean * mean));
            return new Feature(name, "input", true, n, n < settings.blockSamples() / 2 ? Double.NaN
                    : psi(referenceCounts, window), mean, std, referenceMean, referenceStd);
        }

        private final class Block {
            final long[] counts = new long[settings.bins()];
            long n;
            double sum;
            double sumSq;

            void add(int bin, double v) {
                counts[bin]++;
                n++;
                sum += v;
                sumSq += v * v;
            }

            void clear() {
                Arrays.fill(counts, 0);
                n = 0;
                sum = 0;
                sumSq = 0;
            }
        }
    }

    /** A classifier output: frequencies of the predicted class (argmax of the last axis per row). */
    private final class Classes {
        private final long[] reference;
        private long referenceRows;
        private final long[][] blocks;
        private final long[] blockRows = new long[2];
        private int current;

        Classes(int classes) {
            reference = new long[classes];
            blocks = new long[][] {new long[classes], new long[classes]};
        }

        void observe(Tensor y) {
            int classes = reference.length;
            int rows = y.size() / classes;
            int referenceRowsWanted = Math.max(1, settings.referenceSamples() / 4);
            // rows sampled evenly, as inputs' values are: an output with a class per pixel costs
            // no more here than a classifier's one row
            int step = strideFor(rows);
            for (int r = 0; r < rows; r += step) {
                int best = y.argmax(r * classes, classes);
                if (referenceRows < referenceRowsWanted) {
                    reference[best]++;
                    referenceRows++;
                    continue;
                }
                if (blockRows[current] >= Math.max(1, settings.blockSamples() / 4)) {
                    current = 1 - current;
                    Arrays.fill(blocks[current], 0);
                    blockRows[current] = 0;
                }
                blocks[current][best]++;
                blockRows[current]++;
            }
        }

        Feature feature(String name) {
            boolean ready = referenceRows >= Math.max(1, settings.referenceSamples() / 4);
            long[] window = new long[reference.length];
            for (long[] b : blocks) {
                for (int i = 0; i < window.length; i++) {
                    window[i] += b[i];
                }
            }
            long n = blockRows[0] + blockRows[1];
            double psi = !ready || n < Math.max(1, settings.blockSamples() / 8) ? Double.NaN : psi(reference, window);
            return new Feature(name, "output-class", ready, n, psi, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
        }
    }
}
