package io.meshinfer.observability;

import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;

/**
 * Drift as Prometheus gauges: {@code meshinfer_drift_psi} per feature (an input, or an
 * output's predicted-class distribution), the window's mean per input, and
 * {@code meshinfer_drift_flag} per version (1 when a feature's PSI is over the threshold).
 */
final class DriftCollector implements MultiCollector {
    private final String node;
    private final DriftRegistry drift;

    DriftCollector(String node, DriftRegistry drift) {
        this.node = node;
        this.drift = drift;
    }

    @Override
    public MetricSnapshots collect() {
        GaugeSnapshot.Builder psi = GaugeSnapshot.builder().name("meshinfer_drift_psi")
                .help("Population stability index of a feature's recent values against its reference profile");
        GaugeSnapshot.Builder mean = GaugeSnapshot.builder().name("meshinfer_drift_window_mean")
                .help("Mean of an input's sampled values over the drift window");
        GaugeSnapshot.Builder flag = GaugeSnapshot.builder().name("meshinfer_drift_flag")
                .help("1 when a feature of the version drifted past meshinfer.drift.psi-threshold on this node");
        for (DriftMonitor.Status s : drift.statuses()) {
            flag.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(Labels.of("model", s.model(),
                    "version", s.version(), "node", node)).value(s.drifted() ? 1 : 0).build());
            for (DriftMonitor.Feature f : s.features()) {
                Labels labels = Labels.of("model", s.model(), "version", s.version(), "node", node, "feature",
                        f.name(), "kind", f.kind());
                if (Double.isFinite(f.psi())) {
                    psi.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(labels).value(f.psi()).build());
                }
                if (Double.isFinite(f.mean())) {
                    mean.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(labels).value(f.mean())
                            .build());
                }
            }
        }
        return MetricSnapshots.builder().metricSnapshot(psi.build()).metricSnapshot(mean.build())
                .metricSnapshot(flag.build()).build();
    }
}
