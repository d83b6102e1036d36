package io.meshinfer.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.util.Map;
import java.util.TreeMap;

/**
 * The JSON of {@code GET /v1/ui/stats}: this node's request counters, latency and batch
 * sizes per model version, read from the same metric snapshots {@code GET /metrics} writes.
 * Everything is cumulative since the node started; the dashboard derives rates and recent
 * quantiles from the difference of two samples, timed by {@code at} (this node's clock),
 * so it needs no state here.
 *
 * <pre>{@code
 * {"node": "n1", "at": 1700000000000, "versions": [{"model": "m", "version": "1",
 *   "requests": {"ok": 10, "overloaded": 1}, "total": 11, "errors": 1,
 *   "latency": {"count": 11, "sum": 0.04, "p50": 0.0021, "p95": 0.0048, "p99": 0.0049,
 *               "bounds": [0.0005, ...], "counts": [0, 3, ...]},
 *   "batch": {"runs": 5, "rows": 11, "mean": 2.2}, "queueDepth": 0}]}
 * }</pre>
 *
 * Latency counts are per bucket, not cumulative, the last one above every bound. A request
 * refused before a version was chosen has version {@code ""}.
 */
final class DashboardStats {
    private static final double[] QUANTILES = {0.5, 0.95, 0.99};

    private DashboardStats() {
    }

    static ObjectNode toJson(String node, long atMillis, MetricSnapshots snapshots, ObjectMapper mapper) {
        Map<String, Version> versions = new TreeMap<>();
        for (MetricSnapshot s : snapshots) {
            switch (s.getMetadata().getName()) {
                case "meshinfer_requests" -> {
                    for (CounterSnapshot.CounterDataPointSnapshot p : ((CounterSnapshot) s).getDataPoints()) {
                        versionOf(versions, p.getLabels()).requests.merge(p.getLabels().get("outcome"),
                                (long) p.getValue(), Long::sum);
                    }
                }
                case "meshinfer_request_duration_seconds" -> {
                    for (HistogramSnapshot.HistogramDataPointSnapshot p : ((HistogramSnapshot) s).getDataPoints()) {
                        versionOf(versions, p.getLabels()).latency = p;
                    }
                }
                case "meshinfer_batch_size" -> {
                    for (HistogramSnapshot.HistogramDataPointSnapshot p : ((HistogramSnapshot) s).getDataPoints()) {
                        Version v = versionOf(versions, p.getLabels());
                        v.runs += p.getCount();
                        v.rows += p.getSum();
                    }
                }
                case "meshinfer_queue_depth" -> {
                    for (GaugeSnapshot.GaugeDataPointSnapshot p : ((GaugeSnapshot) s).getDataPoints()) {
                        versionOf(versions, p.getLabels()).queueDepth += (long) p.getValue();
                    }
                }
                default -> {
                }
            }
        }
        ObjectNode n = mapper.createObjectNode();
        n.put("node", node);
        n.put("at", atMillis);
        ArrayNode out = n.putArray("versions");
        versions.values().forEach(v -> out.add(v.toJson(mapper)));
        return n;
    }

    private static Version versionOf(Map<String, Version> versions, Labels labels) {
        String model = labels.get("model");
        String version = labels.contains("version") ? labels.get("version") : "";
        return versions.computeIfAbsent(model + "\u0000" + version, k -> new Version(model, version));
    }

    /**
     * The {@code q} quantile of a classic histogram, interpolating linearly inside the bucket
     * that holds it (as Prometheus' {@code histogram_quantile} does); null without
     * observations; the highest finite bound when it falls in the overflow bucket.
     */
    static Double quantile(double q, ClassicHistogramBuckets buckets) {
        long total = 0;
        for (int i = 0; i < buckets.size(); i++) {
            total += buckets.getCount(i);
        }
        if (total == 0) {
            return null;
        }
        double rank = q * total;
        long seen = 0;
        double lower = 0;
        for (int i = 0; i < buckets.size(); i++) {
            double upper = buckets.getUpperBound(i);
            long count = buckets.getCount(i);
            if (count > 0 && seen + count >= rank) {
                if (Double.isInfinite(upper)) {
                    return lower;
                }
                return lower + (upper - lower) * Math.max(0, rank - seen) / count;
            }
            seen += count;
            if (!Double.isInfinite(upper)) {
                lower = upper;
            }
        }
        return lower;
    }

    /** What one model version has accumulated on this node. */
    private static final class Version {
        final String model;
        final String version;
        final Map<String, Long> requests = new TreeMap<>();
        HistogramSnapshot.HistogramDataPointSnapshot latency;
        long runs;
        double rows;
        long queueDepth;

        Version(String model, String version) {
            this.model = model;
            this.version = version;
        }

        ObjectNode toJson(ObjectMapper mapper) {
            ObjectNode o = mapper.createObjectNode();
            o.put("model", model);
            o.put("version", version);
            ObjectNode r = o.putObject("requests");
            requests.forEach(r::put);
            long total = requests.values().stream().mapToLong(Long::longValue).sum();
            o.put("total", total);
            o.put("errors", total - requests.getOrDefault("ok", 0L));
            ObjectNode l = o.putObject("latency");
            ClassicHistogramBuckets buckets = latency == null ? ClassicHistogramBuckets.EMPTY
                    : latency.getClassicBuckets();
            l.put("count", latency == null ? 0 : latency.getCount());
            l.put("sum", latency == null ? 0 : latency.getSum());
            for (double q : QUANTILES) {
                Double v = quantile(q, buckets);
                String name = "p" + Math.round(q * 100);
                if (v == null) {
                    l.putNull(name);
                } else {
                    l.put(name, v);
                }
            }
            ArrayNode bounds = l.putArray("bounds");
            ArrayNode counts = l.putArray("counts");
            for (int i = 0; i < buckets.size(); i++) {
                if (!Double.isInfinite(buckets.getUpperBound(i))) {
                    bounds.add(buckets.getUpperBound(i));
                }
                counts.add(buckets.getCount(i));
            }
            ObjectNode b = o.putObject("batch");
            b.put("runs", runs);
            b.put("rows", Math.round(rows));
            if (runs == 0) {
                b.putNull("mean");
            } else {
                b.put("mean", Math.round(rows / runs * 100) / 100.0);
            }
            o.put("queueDepth", queueDepth);
            return o;
        }
    }
}
