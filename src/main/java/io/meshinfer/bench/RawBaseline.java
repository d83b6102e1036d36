package io.meshinfer.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.meshinfer.runtime.BatchAssembler;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;

/**
 * Raw ONNX Runtime in this process, the physical limit the engine is compared with:
 * sessions created directly, inputs prepared once, {@code OrtSession.run} in tight loops.
 * Throughput is measured for each batch size with one thread and two intra-op threads,
 * and with two threads sharing one session at one intra-op thread each (the best on two
 * cores, per PERFORMANCE-NOTES); latency at batch 1 with one thread.
 */
public final class RawBaseline {
    private final OrtEnvironment env = io.meshinfer.runtime.OrtNative.environment();
    private final byte[] model;

    /** One measured configuration, measured for {@code seconds}. */
    public record Point(int batch, int threads, int intraOp, double samplesPerSecond, double seconds) {
        /** Whether {@code other} is the same configuration. */
        public boolean sameConfiguration(Point other) {
            return batch == other.batch && threads == other.threads && intraOp == other.intraOp;
        }
    }

    public RawBaseline(byte[] model) {
        this.model = model.clone();
    }

    private OrtSession session(int intraOp) throws OrtException {
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setIntraOpNumThreads(intraOp);
            o.setInterOpNumThreads(1);
            o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            o.addConfigEntry("session.intra_op.allow_spinning", "0");
            return env.createSession(model, o);
        }
    }

    private Map<String, OnnxTensor> feed(List<NamedTensor> rows) throws OrtException {
        Map<String, OnnxTensor> feed = new HashMap<>();
        for (NamedTensor t : rows) {
            feed.put(t.name(), toOrt(t.tensor()));
        }
        return feed;
    }

    private OnnxTensor toOrt(Tensor t) throws OrtException {
        return switch (t.dtype()) {
            case FP32 -> OnnxTensor.createTensor(env, FloatBuffer.wrap(t.floats()), t.shape());
            case FP64 -> OnnxTensor.createTensor(env, DoubleBuffer.wrap(t.doubles()), t.shape());
            case INT64 -> OnnxTensor.createTensor(env, LongBuffer.wrap(t.longs()), t.shape());
            case INT32 -> OnnxTensor.createTensor(env, IntBuffer.wrap(t.ints()), t.shape());
            case UINT8 -> OnnxTensor.createTensor(env, ByteBuffer.wrap(t.bytes()), t.shape(),
                    ai.onnxruntime.OnnxJavaType.UINT8);
            default -> throw new IllegalArgumentException("raw baseline does not feed " + t.dtype());
        };
    }

    /** Inputs of {@code batch} rows built from the given one-row input sets. */
    static List<NamedTensor> batchOf(List<List<NamedTensor>> oneRow, int batch) {
        List<List<NamedTensor>> parts = new ArrayList<>(batch);
        for (int i = 0; i < batch; i++) {
            parts.add(oneRow.get(i % oneRow.size()));
        }
        return BatchAssembler.concat(parts);
    }

    /** Samples per second with {@code threads} threads running batches of {@code batch} on one session. */
    public Point throughput(List<List<NamedTensor>> oneRow, int batch, int threads, int intraOp, Duration duration)
            throws Exception {
        try (OrtSession s = session(intraOp)) {
            Map<String, OnnxTensor> feed = feed(batchOf(oneRow, batch));
            try {
                for (int i = 0; i < 20; i++) {
                    s.run(feed).close();
                }
                LongAdder runs = new LongAdder();
                long end = System.nanoTime() + duration.toNanos();
                CountDownLatch done = new CountDownLatch(threads);
                List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
                long start = System.nanoTime();
                for (int t = 0; t < threads; t++) {
                    Thread th = new Thread(() -> {
                        try {
                            while (System.nanoTime() < end) {
                                s.run(feed).close();
                                runs.increment();
                            }
                        } catch (OrtException e) {
                            errors.add(e);
                        } finally {
                            done.countDown();
                        }
                    }, "raw-ort-" + t);
                    th.start();
                }
                done.await();
                if (!errors.isEmpty()) {
                    throw new IllegalStateException("raw ONNX Runtime failed", errors.get(0));
                }
                double secs = (System.nanoTime() - start) / 1e9;
                return new Point(batch, threads, intraOp, runs.sum() * (double) batch / secs, secs);
            } finally {
                feed.values().forEach(OnnxTensor::close);
            }
        }
    }

    /** Latency of single-row runs, one thread, in microseconds. */
    public Histogram batchOneLatency(List<List<NamedTensor>> oneRow, int intraOp, Duration duration) throws Exception {
        try (OrtSession s = session(intraOp)) {
            List<Map<String, OnnxTensor>> feeds = new ArrayList<>();
            for (List<NamedTensor> row : oneRow) {
                feeds.add(feed(row));
            }
            try {
                Histogram h = new Histogram(3);
                long end = System.nanoTime() + duration.toNanos();
                int i = 0;
                for (int w = 0; w < 200; w++) {
                    s.run(feeds.get(w % feeds.size())).close();
                }
                while (System.nanoTime() < end) {
                    long t0 = System.nanoTime();
                    s.run(feeds.get(i++ % feeds.size())).close();
                    h.recordValue(Math.max(1, (System.nanoTime() - t0) / 1000));
                }
                return h;
            } finally {
                feeds.forEach(f -> f.values().forEach(OnnxTensor::close));
            }
        }
    }
}
