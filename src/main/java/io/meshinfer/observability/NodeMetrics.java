package io.meshinfer.observability;

import io.meshinfer.api.ErrorKind;
import io.meshinfer.api.InferenceException;
import io.meshinfer.batching.BatcherStats;
import io.meshinfer.batching.Buckets;
import io.meshinfer.gateway.ClusterSnapshot;
import io.meshinfer.registry.ArtifactStore;
import io.meshinfer.registry.CatalogView;
import io.meshinfer.registry.ModelEntry;
import io.meshinfer.routing.MemberInfo;
import io.meshinfer.runtime.ModelRuntime;
import io.meshinfer.shard.PlacementDeferrals;
import io.meshinfer.shard.PooledReplica;
import io.meshinfer.shard.ReplicaPool;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * This node's Prometheus metrics, served at {@code GET /metrics} in the text format. Names
 * start with {@code meshinfer_}; per-model series carry {@code model}, {@code version} and
 * {@code node}, request counters also {@code outcome} ({@code ok} or the error kind).
 *
 * <p>Requests are counted where they enter this node (the gateway or the Java client),
 * end to end. Queue wait, inference time and batch sizes are read at scrape time from the
 * batchers of the replicas this node hosts; gauges (queue depth, replicas, sessions,
 * artifact bytes, members, traffic split, rollouts) are computed at scrape time too, so
 * nothing is kept for a replica or model that is gone. Label values for models come only
 * from the catalog ({@code _unknown_} otherwise), so callers cannot grow the series.
 */
public final class NodeMetrics {
    private static final String UNKNOWN = "_unknown_";

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final String node;
    private final CatalogView catalog;
    private final Counter requests;
    private final Histogram duration;
    private final Counter activationBytes;
    private final Counter networkBytes;
    private final Counter ensembleMembers;
    private final AtomicInteger inFlight = new AtomicInteger();
    /**
     * The successful-request counter and the latency histogram of each model and version,
     * looked up once instead of per request (label lookups were a visible share of the
     * engine's CPU at tens of thousands of requests per second). Keys come from the catalog
     * only, like the label values.
     */
    private final Map<String, Map<String, Series>> series = new ConcurrentHashMap<>();

    private record Series(CounterDataPoint ok, DistributionDataPoint duration) {
    }

    /**
     * @param cluster this node's current view of the cluster (members, island mode)
     * @param membersDowned members this node saw downed in its current membership
     * @param deferrals replica placements this node's shard coordinator deferred, by reason
     */
    public NodeMetrics(String node, CatalogView catalog, ReplicaPool pool, ModelRuntime runtime, ArtifactStore store,
                       DriftRegistry drift, Supplier<ClusterSnapshot> cluster, LongSupplier membersDowned,
                       PlacementDeferrals deferrals) {
        this.node = node;
        this.catalog = catalog;
        this.requests = Counter.builder().name("meshinfer_requests_total")
                .help("Inference requests that entered this node, by outcome (ok or the error kind)")
                .labelNames("model", "version", "node", "outcome").register(registry);
        this.duration = Histogram.builder().name("meshinfer_request_duration_seconds")
                .help("End-to-end latency of requests that entered this node, from arrival to answer")
                .labelNames("model", "version", "node").classicOnly()
                .classicUpperBounds(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                        30)
                .register(registry);
        this.activationBytes = Counter.builder().name("meshinfer_pipeline_activation_bytes_total")
                .help("Bytes of activations this node handed from one stage of a pipeline to the next (each"
                        + " stage's outputs passed on as the next stage's inputs)")
                .labelNames("model", "version", "node").register(registry);
        this.networkBytes = Counter.builder().name("meshinfer_pipeline_network_bytes_total")
                .help("Tensor bytes of pipeline stage requests this node served for another node (the request's"
                        + " inputs for stage 0, activations for later stages), i.e. what crossed the network to it")
                .labelNames("model", "version", "node").register(registry);
        this.ensembleMembers = Counter.builder().name("meshinfer_ensemble_member_total")
                .help("Answers of ensemble members to requests to an ensemble entering this node, by outcome")
                .labelNames("model", "member", "node", "outcome").register(registry);
        registry.register(new Scraped(pool, runtime, store, cluster, membersDowned));
        registry.register(() -> {
            CounterSnapshot.Builder deferred = CounterSnapshot.builder().name("meshinfer_placement_deferred")
                    .help("Replica placements this node's shard coordinator deferred and retries later, by reason"
                            + " (no_memory_budget, no_eligible_node, ...); only the coordinator, the oldest member,"
                            + " places replicas");
            for (PlacementDeferrals.Reason r : PlacementDeferrals.Reason.values()) {
                deferred.dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder()
                        .labels(Labels.of("node", node, "reason", r.label())).value(deferrals.count(r)).build());
            }
            return deferred.build();
        });
        registry.register(new DriftCollector(node, drift));
        JvmMetrics.builder().register(registry);
    }

    /** Counts activation bytes a pipeline request entering here passed from one stage to the next. */
    public void pipelineActivations(String model, String version, long bytes) {
        countPipelineBytes(activationBytes, model, version, bytes);
    }

    /** Tensor bytes of a stage request that reached this node from another one. */
    public void pipelineNetwork(String model, String version, long bytes) {
        countPipelineBytes(networkBytes, model, version, bytes);
    }

    private void countPipelineBytes(Counter counter, String model, String version, long bytes) {
        ModelEntry entry = catalog.models().get(model);
        String m = entry == null ? UNKNOWN : model;
        String v = entry != null && entry.versions().containsKey(version) ? version : "";
        counter.labelValues(m, v, node).inc(bytes);
    }

    /**
     * Counts one member's answer to a request to ensemble {@code model} entering here ({@code error}
     * null: it answered). Only deployed names become labels, so the series stay bounded.
     */
    public void ensembleMember(String model, String member, Throwable error) {
        Map<String, ModelEntry> models = catalog.models();
        ensembleMembers.labelValues(models.containsKey(model) ? model : UNKNOWN,
                models.containsKey(member) ? member : UNKNOWN, node, outcome(error)).inc();
    }

    /** Call when a request enters; returns its start time for {@link #finished}. */
    public long started() {
        inFlight.incrementAndGet();
        return System.nanoTime();
    }

    /**
     * Records a request's outcome.
     *
     * @param version the version that answered, or the pinned one, or null
     * @param error null on success
     */
    public void finished(String model, String version, Throwable error, long startNanos) {
        inFlight.decrementAndGet();
        ModelEntry entry = catalog.models().get(model);
        String m = entry == null ? UNKNOWN : model;
        String v = entry != null && version != null && entry.versions().containsKey(version) ? version : "";
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        if (error != null) {
            requests.labelValues(m, v, node, outcome(error)).inc();
            duration.labelValues(m, v, node).observe(seconds);
            return;
        }
        Map<String, Series> versions = series.get(m);
        if (versions == null) {
            versions = series.computeIfAbsent(m, k -> new ConcurrentHashMap<>());
        }
        Series s = versions.get(v);
        if (s == null) {
            s = versions.computeIfAbsent(v, k -> new Series(requests.labelValues(m, k, node, "ok"),
                    duration.labelValues(m, k, node)));
        }
        s.ok().inc();
        s.duration().observe(seconds);
    }

    static String outcome(Throwable error) {
        if (error == null) {
            return "ok";
        }
        Throwable c = error;
        while (c instanceof CompletionException && c.getCause() != null) {
            c = c.getCause();
        }
        ErrorKind kind = c instanceof InferenceException ie ? ie.kind() : ErrorKind.INTERNAL;
        return OUTCOMES[kind.ordinal()];
    }

    /** Each error kind's outcome label, made once rather than on every failed request. */
    private static final String[] OUTCOMES = java.util.Arrays.stream(ErrorKind.values())
            .map(k -> k.name().toLowerCase(Locale.ROOT)).toArray(String[]::new);

    /** Everything in the Prometheus text exposition format (version 0.0.4). */
    public byte[] scrape() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(16 * 1024);
        try {
            new PrometheusTextFormatWriter(false).write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** The {@code meshinfer_} metrics (not the JVM's) as snapshots, for callers that compute on them. */
    public MetricSnapshots snapshot() {
        return registry.scrape(name -> name.startsWith("meshinfer_"));
    }

    /** The content type of {@link #scrape()}: Prometheus text format 0.0.4. */
    public static final org.apache.pekko.http.javadsl.model.ContentType.WithFixedCharset CONTENT_TYPE =
            org.apache.pekko.http.javadsl.model.ContentTypes.create(
                    org.apache.pekko.http.javadsl.model.MediaTypes.customWithFixedCharset("text", "plain",
                            org.apache.pekko.http.javadsl.model.HttpCharsets.UTF_8, new java.util.HashMap<>(
                                    Map.of("version", "0.0.4")), false));

    /** The gauges and replica histograms computed at each scrape. */
    private final class Scraped implements MultiCollector {
        private final ReplicaPool pool;
        private final ModelRuntime runtime;
        private final ArtifactStore store;
        private final Supplier<ClusterSnapshot> cluster;
        private final LongSupplier membersDowned;

        Scraped(ReplicaPool pool, ModelRuntime runtime, ArtifactStore store, Supplier<ClusterSnapshot> cluster,
                LongSupplier membersDowned) {
            this.pool = pool;
            this.runtime = runtime;
            this.store = store;
            this.cluster = cluster;
            this.membersDowned = membersDowned;
        }

        @Override
        public MetricSnapshots collect() {
            MetricSnapshots.Builder out = MetricSnapshots.builder();
            HistogramSnapshot.Builder queueWait = HistogramSnapshot.builder().name("meshinfer_queue_wait_seconds")
                    .help("Time requests waited in a replica's queue on this node before their run began");
            HistogramSnapshot.Builder inference = HistogramSnapshot.builder().name("meshinfer_inference_duration_seconds")
                    .help("Model run time per batch on this node's replicas");
            HistogramSnapshot.Builder batchSize = HistogramSnapshot.builder().name("meshinfer_batch_size")
                    .help("Rows per model run on this node's replicas");
            GaugeSnapshot.Builder depth = GaugeSnapshot.builder().name("meshinfer_queue_depth")
                    .help("Requests queued or running in this node's replicas");
            CounterSnapshot.Builder overloaded = CounterSnapshot.builder().name("meshinfer_replica_overloaded")
                    .help("Requests this node's replicas refused because their queue was full");
            Map<String, Integer> replicasByStatus = new TreeMap<>();
            Map<String, long[]> perVersion = new TreeMap<>();
            for (PooledReplica r : pool.all()) {
                String model = r.id().model();
                String version = r.id().version();
                replicasByStatus.merge(model + "\u0000" + version + "\u0000"
                        + r.status().name().toLowerCase(Locale.ROOT), 1, Integer::sum);
                BatcherStats s = r.batcher().liveStats();
                Labels labels = Labels.of("model", model, "version", version, "node", node, "replica",
                        String.valueOf(r.id().replica()));
                queueWait.dataPoint(histogram(s.queueWait, labels));
                inference.dataPoint(histogram(s.runTime, labels));
                batchSize.dataPoint(histogram(s.batchRows, labels));
                depth.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(labels)
                        .value(r.batcher().outstanding()).build());
                overloaded.dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder().labels(labels)
                        .value(r.batcher().stats().overloaded()).build());
                perVersion.computeIfAbsent(model + "\u0000" + version, k -> new long[1])[0]++;
            }
            out.metricSnapshot(queueWait.build()).metricSnapshot(inference.build()).metricSnapshot(batchSize.build())
                    .metricSnapshot(depth.build()).metricSnapshot(overloaded.build());

            GaugeSnapshot.Builder replicas = GaugeSnapshot.builder().name("meshinfer_replicas")
                    .help("Replicas loaded on this node, by status (ready, orphaned, stopping)");
            replicasByStatus.forEach((k, n) -> {
                String[] p = k.split("\u0000");
                replicas.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(Labels.of("model", p[0],
                        "version", p[1], "node", node, "status", p[2])).value(n).build());
            });
            out.metricSnapshot(replicas.build());
            out.metricSnapshot(gauge("meshinfer_in_flight_requests",
                    "Requests that entered this node and are not answered yet", inFlight.get()));
            out.metricSnapshot(gauge("meshinfer_loaded_sessions", "ONNX Runtime sessions open on this node",
                    runtime.loadedSessions().size()));
            out.metricSnapshot(gauge("meshinfer_loaded_session_bytes", "Bytes of the model files behind the open ONNX"
                    + " Runtime sessions on this node (their weights in native memory; the runtime's activation arena"
                    + " comes on top, see process_resident_memory_bytes)", runtime.loadedSessionBytes()));
            long[] artifacts = artifactBytes();
            out.metricSnapshot(gauge("meshinfer_artifact_bytes", "Bytes of model files in this node's artifact store",
                    artifacts[0]));
            out.metricSnapshot(gauge("meshinfer_artifacts", "Model files in this node's artifact store", artifacts[1]));

            ClusterSnapshot c = cluster.get();
            Map<String, Integer> byStatus = new TreeMap<>();
            for (String s : new String[] {"Joining", "WeaklyUp", "Up", "Leaving", "Exiting", "Down", "Removed"}) {
                byStatus.put(s.toLowerCase(Locale.ROOT), 0);
            }
            int unreachable = 0;
            for (MemberInfo m : c.members()) {
                byStatus.merge(m.status().toLowerCase(Locale.ROOT), 1, Integer::sum);
                if (!m.reachable()) {
                    unreachable++;
                }
            }
            GaugeSnapshot.Builder members = GaugeSnapshot.builder().name("meshinfer_cluster_members")
                    .help("Cluster members as this node sees them, by status");
            byStatus.forEach((s, n) -> members.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder()
                    .labels(Labels.of("node", node, "status", s)).value(n).build()));
            out.metricSnapshot(members.build());
            out.metricSnapshot(gauge("meshinfer_cluster_unreachable_members",
                    "Members this node's failure detector marks unreachable", unreachable));
            out.metricSnapshot(gauge("meshinfer_island_mode",
                    "1 while this node is cut off from its cluster and serves from its own replicas", c.islandMode()
                            ? 1 : 0));
            out.metricSnapshot(CounterSnapshot.builder().name("meshinfer_cluster_members_downed")
                    .help("Members this node saw downed (split brain resolver decisions) in its current membership")
                    .dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder().labels(Labels.of("node", node))
                            .value(membersDowned.getAsLong()).build()).build());

            GaugeSnapshot.Builder weights = GaugeSnapshot.builder().name("meshinfer_traffic_weight")
                    .help("Percent of a model's unpinned traffic each version takes (the routing table)");
            int rollouts = 0;
            for (ModelEntry e : catalog.models().values()) {
                for (Map.Entry<String, Integer> w : new TreeMap<>(e.weights()).entrySet()) {
                    weights.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(Labels.of("model",
                            e.model(), "version", w.getKey(), "node", node)).value(w.getValue()).build());
                }
                if (e.activeRollout().isPresent()) {
                    rollouts++;
                }
            }
            out.metricSnapshot(weights.build());
            out.metricSnapshot(gauge("meshinfer_rollouts_in_progress", "Rollouts running or paused in the cluster",
                    rollouts));
            return out.build();
        }

        private GaugeSnapshot gauge(String name, String help, double value) {
            return GaugeSnapshot.builder().name(name).help(help).dataPoint(GaugeSnapshot.GaugeDataPointSnapshot
                    .builder().labels(Labels.of("node", node)).value(value).build()).build();
        }

        private long[] artifactBytes() {
            long bytes = 0;
            long files = 0;
            try {
                for (String sha : store.list()) {
                    try {
                        bytes += Files.size(store.directory().resolve(sha + ".onnx"));
                        files++;
                    } catch (IOException e) {
                        // deleted meanwhile
                    }
                }
            } catch (IOException e) {
                return new long[] {0, 0};
            }
            return new long[] {bytes, files};
        }
    }

    private static HistogramSnapshot.HistogramDataPointSnapshot histogram(Buckets b, Labels labels) {
        double[] bounds = b.bounds();
        long[] counts = b.counts();
        double[] upper = new double[bounds.length + 1];
        System.arraycopy(bounds, 0, upper, 0, bounds.length);
        upper[bounds.length] = Double.POSITIVE_INFINITY;
        return HistogramSnapshot.HistogramDataPointSnapshot.builder().labels(labels)
                .classicHistogramBuckets(ClassicHistogramBuckets.of(upper, counts)).sum(b.sum()).build();
    }
}
