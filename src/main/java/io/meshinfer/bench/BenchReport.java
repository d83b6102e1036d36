package io.meshinfer.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * One bench run's results: the machine and model, the raw ONNX Runtime baselines and
 * every measured series, written as JSON (for tools), Markdown (for people and
 * BENCHMARKS.md) and a PNG chart of latency against throughput.
 */
public final class BenchReport {
    private final Map<String, Object> header = new LinkedHashMap<>();
    private final List<RawBaseline.Point> raw = new ArrayList<>();
    private RawBaseline.Point rawBestAgain;
    private double rawBatchOneP50Millis = Double.NaN;
    private final Map<String, List<LoadGenerator.Result>> series = new LinkedHashMap<>();

    public void header(String key, Object value) {
        header.put(key, value);
    }

    public void raw(RawBaseline.Point p) {
        raw.add(p);
    }

    /**
     * The best of the {@link #raw} points measured again, for as long as a series: it becomes
     * {@link #rawBest}. The highest of several short, noisy measurements reads high by chance
     * (it is chosen because it read high); a second measurement of the chosen configuration
     * does not share that error.
     */
    public void rawBestAgain(RawBaseline.Point p) {
        if (rawHighest().filter(p::sameConfiguration).isEmpty()) {
            throw new IllegalArgumentException("the second measurement must be of the highest point's configuration,"
                    + " not batch " + p.batch() + " at " + p.threads() + " x " + p.intraOp());
        }
        rawBestAgain = p;
    }

    /** The highest of the {@link #raw} points, the configuration to measure again (empty when none ran). */
    public Optional<RawBaseline.Point> rawHighest() {
        return raw.stream().max(Comparator.comparingDouble(RawBaseline.Point::samplesPerSecond));
    }

    public void rawBatchOneP50Millis(double ms) {
        rawBatchOneP50Millis = ms;
    }

    public void add(String seriesName, LoadGenerator.Result r) {
        series.computeIfAbsent(seriesName, k -> new ArrayList<>()).add(r);
    }

    /**
     * The best raw throughput in samples per second: the best configuration's second
     * measurement when there is one, else the highest point (NaN when no baseline ran).
     */
    public double rawBest() {
        if (rawBestAgain != null) {
            return rawBestAgain.samplesPerSecond();
        }
        return rawHighest().map(RawBaseline.Point::samplesPerSecond).orElse(Double.NaN);
    }

    public double rawBatchOneP50Millis() {
        return rawBatchOneP50Millis;
    }

    public Map<String, List<LoadGenerator.Result>> series() {
        return series;
    }

    public String markdown() {
        StringBuilder md = new StringBuilder();
        header.forEach((k, v) -> md.append("- ").append(k).append(": ").append(v).append('\n'));
        if (!raw.isEmpty()) {
            md.append("\nRaw ONNX Runtime in this process (samples/s):\n\n| batch | threads x intra-op | samples/s |\n|---:|---|---:|\n");
            for (RawBaseline.Point p : raw) {
                md.append(String.format(Locale.ROOT, "| %d | %d x %d | %.0f |%n", p.batch(), p.threads(), p.intraOp(),
                        p.samplesPerSecond()));
            }
            if (rawBestAgain != null) {
                RawBaseline.Point p = rawBestAgain;
                md.append(String.format(Locale.ROOT, "%nRaw best: %.0f samples/s, batch %d at %d x %d measured again for"
                                + " %.0f s (its point above, the highest of %d, read %.0f); raw batch-1 p50 latency:"
                                + " %.3f ms%n", p.samplesPerSecond(), p.batch(), p.threads(), p.intraOp(), p.seconds(),
                        raw.size(), rawHighest().orElseThrow().samplesPerSecond(), rawBatchOneP50Millis));
            } else {
                md.append(String.format(Locale.ROOT, "%nRaw best: %.0f samples/s; raw batch-1 p50 latency: %.3f ms%n",
                        rawBest(), rawBatchOneP50Millis));
            }
        }
        md.append("\n| series | load | requests/s | vs raw best | p50 ms | p90 ms | p99 ms | p99.9 ms | mean batch rows |"
                + " errors | failure p99 ms | CPU share |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|\n");
        series.forEach((name, results) -> {
            for (LoadGenerator.Result r : results) {
                md.append(String.format(Locale.ROOT, "| %s | %s %s | %.0f | %s | %.3f | %.3f | %.3f | %.3f | %.2f | %s | %s | %.0f%% |%n",
                        name, r.mode().equals("closed") ? "c=" : "rate=", fmt(r.load()), r.throughput(),
                        Double.isNaN(rawBest()) ? "-" : String.format(Locale.ROOT, "%.2f", r.throughput() / rawBest()),
                        r.percentileMillis(50), r.percentileMillis(90), r.percentileMillis(99),
                        r.percentileMillis(99.9), r.meanBatchRows(), r.errors().isEmpty() ? "none" : r.errors(),
                        r.failed() == 0 ? "-" : String.format(Locale.ROOT, "%.3f", r.failurePercentileMillis(99)),
                        r.processCpuShare() * 100));
            }
        });
        series.forEach((name, results) -> capacity(results).ifPresent(cap -> {
            for (LoadGenerator.Result r : results) {
                if (!r.mode().equals("closed") && r.ok() > 0) {
                    md.append(String.format(Locale.ROOT, "%n%s at rate %s: accepted p99 %.3f ms is %.2fx the p99 at"
                                    + " capacity (%.3f ms at c=%s, its closed loop of most requests/s)%n", name,
                            fmt(r.load()), r.percentileMillis(99), r.percentileMillis(99) / cap.percentileMillis(99),
                            cap.percentileMillis(99), fmt(cap.load())));
                }
            }
        }));
        return md.toString();
    }

    /** A series' capacity: its closed-loop point that answered most requests per second. */
    static Optional<LoadGenerator.Result> capacity(List<LoadGenerator.Result> results) {
        return results.stream().filter(r -> r.mode().equals("closed") && r.ok() > 0)
                .max(Comparator.comparingDouble(LoadGenerator.Result::throughput));
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? String.valueOf((long) v) : String.format(Locale.ROOT, "%.1f", v);
    }

    public ObjectNode json(ObjectMapper mapper) {
        ObjectNode n = mapper.createObjectNode();
        ObjectNode h = n.putObject("header");
        header.forEach((k, v) -> h.put(k, String.valueOf(v)));
        ArrayNode rawNode = n.putArray("raw");
        for (RawBaseline.Point p : raw) {
            rawNode.addObject().put("batch", p.batch()).put("threads", p.threads()).put("intraOp", p.intraOp())
                    .put("samplesPerSecond", p.samplesPerSecond());
        }
        n.put("rawBest", rawBest());
        rawHighest().ifPresent(p -> n.put("rawHighestPoint", p.samplesPerSecond()));
        if (rawBestAgain != null) {
            n.putObject("rawBestAgain").put("batch", rawBestAgain.batch()).put("threads", rawBestAgain.threads())
                    .put("intraOp", rawBestAgain.intraOp()).put("samplesPerSecond", rawBestAgain.samplesPerSecond())
                    .put("seconds", rawBestAgain.seconds());
        }
        n.put("rawBatchOneP50Millis", rawBatchOneP50Millis);
        ObjectNode s = n.putObject("series");
        series.forEach((name, results) -> {
            ArrayNode a = s.putArray(name);
            for (LoadGenerator.Result r : results) {
                ObjectNode o = a.addObject();
                o.put("mode", r.mode()).put("load", r.load()).put("sent", r.sent()).put("ok", r.ok())
                        .put("seconds", r.seconds()).put("throughput", r.throughput())
                        .put("p50", r.percentileMillis(50)).put("p90", r.percentileMillis(90))
                        .put("p99", r.percentileMillis(99)).put("p999", r.percentileMillis(99.9))
                        .put("meanBatchRows", r.meanBatchRows()).put("processCpuShare", r.processCpuShare())
                        .put("warmupSeconds", r.warmupSeconds());
                if (!r.mode().equals("closed") && r.ok() > 0) {
                    capacity(results).ifPresent(cap -> o.put("p99VsCapacity",
                            r.percentileMillis(99) / cap.percentileMillis(99)));
                }
                ObjectNode errors = o.putObject("errors");
                r.errors().forEach(errors::put);
            }
        });
        return n;
    }

    /** Writes report.json, report.md and latency-vs-throughput.png into {@code dir}. */
    public void write(Path dir, String title) throws IOException {
        Files.createDirectories(dir);
        ObjectMapper mapper = new ObjectMapper();
        Files.write(dir.resolve("report.json"), mapper.writerWithDefaultPrettyPrinter().writeValueAsBytes(json(mapper)));
        Files.writeString(dir.resolve("report.md"), "# " + title + "\n\n" + markdown());
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title)
                .xAxisTitle("throughput (requests/s)").yAxisTitle("latency (ms)").build();
        chart.getStyler().setYAxisLogarithmic(true);
        for (Map.Entry<String, List<LoadGenerator.Result>> e : series.entrySet()) {
            List<LoadGenerator.Result> pts = e.getValue().stream().filter(r -> r.ok() > 0).toList();
            if (pts.isEmpty()) {
                continue;
            }
            double[] x = pts.stream().mapToDouble(LoadGenerator.Result::throughput).toArray();
            chart.addSeries(e.getKey() + " p50", x, pts.stream().mapToDouble(r -> r.percentileMillis(50)).toArray())
                    .setMarker(SeriesMarkers.CIRCLE);
            chart.addSeries(e.getKey() + " p99", x, pts.stream().mapToDouble(r -> r.percentileMillis(99)).toArray())
                    .setMarker(SeriesMarkers.DIAMOND);
        }
        if (!chart.getSeriesMap().isEmpty()) {
            BitmapEncoder.saveBitmap(chart, dir.resolve("latency-vs-throughput.png").toString(),
                    BitmapEncoder.BitmapFormat.PNG);
        }
    }
}
