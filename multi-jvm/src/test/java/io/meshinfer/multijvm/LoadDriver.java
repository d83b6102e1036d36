package io.meshinfer.multijvm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.meshinfer.models.DemoModel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongFunction;

/**
 * Sends Open Inference Protocol requests at a fixed rate from a few threads to a list of
 * gateways, round-robin, and records the terminal outcome of every request exactly once.
 *
 * <p>Accounting: a request is counted as sent just before its first byte goes out; its
 * outcome is then recorded exactly once, whatever happens (answer, typed error, deadline,
 * broken connection, or a bug in the driver itself). Each exchange has a hard client
 * deadline of the request's budget ({@code timeout_ms}) plus a grace, so a worker never
 * waits forever, and {@link #stop()} joins the workers, so afterwards
 * {@link LoadResult#unanswered()} is 0 unless an outcome was lost.
 *
 * <p>Gateways: request {@code seq} goes to gateway {@code seq mod n}. When a gateway
 * refuses the connection (its node is down or not listening) the request goes to the next
 * one, as a load balancer would; this is safe because the request never reached a server,
 * and it is counted in {@link Outcome#failovers()}. A request that was sent and then lost
 * its connection is never re-sent: it is a {@code CONNECTION_LOST} failure.
 *
 * <p>Pacing: each of {@code threads} workers sends one request at a time, at most every
 * {@code threads / rate} seconds; a worker that falls behind (slow answers) does not burst
 * to catch up, so the total rate is an upper bound.
 */
public final class LoadDriver implements AutoCloseable {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final String name;
    private final List<Gateway> gateways;
    private final String path;
    private final LongFunction<byte[]> bodies;
    private final int timeoutMillis;
    private final int graceMillis;
    private final long intervalNanos;
    private final long startNanos = System.nanoTime();
    private final AtomicLong nextSeq = new AtomicLong();
    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong duplicates = new AtomicLong();
    private final Map<Long, Outcome> outcomes = new ConcurrentHashMap<>();
    private final List<Thread> workers = new ArrayList<>();
    /** Gateway readiness by index, or null without a readiness probe. */
    private final AtomicReferenceArray<Boolean> readiness;
    private final List<String> readinessChanges = new CopyOnWriteArrayList<>();
    private volatile boolean running = true;
    private LoadResult finalResult;

    private LoadDriver(Builder b) {
        this.name = b.name;
        this.gateways = List.copyOf(b.gateways);
        this.path = b.version == null
                ? "/v2/models/" + b.model + "/infer"
                : "/v2/models/" + b.model + "/versions/" + b.version + "/infer";
        this.timeoutMillis = b.timeoutMillis;
        this.graceMillis = b.graceMillis;
        this.intervalNanos = (long) (b.threads * 1e9 / b.ratePerSecond);
        this.bodies = b.bodies != null ? b.bodies : seq -> demoRequest(name + "-" + seq, seq, b.timeoutMillis,
                b.residency);
        if (b.probeInterval != null) {
            readiness = new AtomicReferenceArray<>(gateways.size());
            probeOnce();
            long interval = b.probeInterval.toNanos();
            Thread prober = new Thread(() -> probe(interval), "load-" + name + "-probe");
            prober.setDaemon(true);
            prober.start();
        } else {
            readiness = null;
        }
        for (int i = 0; i < b.threads; i++) {
            long offset = (long) (i * 1e9 / b.ratePerSecond);
            Thread t = new Thread(() -> work(offset), "load-" + name + "-" + i);
            t.setDaemon(true);
            workers.add(t);
        }
        workers.forEach(Thread::start);
    }

    /** A builder for a driver sending to {@code gateways} (at least one). */
    public static Builder builder(String name, List<Gateway> gateways) {
        return new Builder(name, gateways);
    }

    /** Milliseconds since this driver started: the clock of every {@link Outcome}. */
    public double now() {
        return (System.nanoTime() - startNanos) / 1e6;
    }

    public String name() {
        return name;
    }

    /** The counts so far (requests in flight show as unanswered). */
    public LoadResult snapshot() {
        return new LoadResult(name, sent.get(), duplicates.get(), List.copyOf(outcomes.values()));
    }

    /**
     * Stops sending, waits for every request in flight to get its outcome (each is bounded
     * by its deadline), and returns the final counts. Idempotent.
     */
    public synchronized LoadResult stop() {
        if (finalResult != null) {
            return finalResult;
        }
        running = false;
        long joinUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis + graceMillis + 10_000L);
        for (Thread t : workers) {
            LockSupport.unpark(t);
            long left = joinUntil - System.nanoTime();
            try {
                if (left > 0) {
                    t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        finalResult = snapshot();
        return finalResult;
    }

    /** When each gateway's readiness changed (empty without a readiness probe). */
    public List<String> readinessChanges() {
        return List.copyOf(readinessChanges);
    }

    @Override
    public void close() {
        stop();
    }

    private void work(long offsetNanos) {
        long next = System.nanoTime() + offsetNanos;
        while (running) {
            long wait = next - System.nanoTime();
            if (wait > 0) {
                LockSupport.parkNanos(this, wait);
                continue;
            }
            next = Math.max(next + intervalNanos, System.nanoTime());
            long seq = nextSeq.getAndIncrement();
            double start = now();
            sent.incrementAndGet();
            Outcome outcome;
            try {
                outcome = exchange(seq, start);
            } catch (Throwable t) {
                outcome = Outcome.failure(seq, "?", start, now(), Outcome.Kind.CLIENT_ERROR, t.toString(), 0, 0);
            }
            if (outcomes.putIfAbsent(seq, outcome) != null) {
                duplicates.incrementAndGet();
            }
        }
    }

    private Outcome exchange(long seq, double start) {
        byte[] body = bodies.apply(seq);
        long deadline = startNanos + (long) (start * 1e6) + TimeUnit.MILLISECONDS.toNanos(timeoutMillis + graceMillis);
        int first = (int) (seq % gateways.size());
        String refusals = null;
        int refused = 0;
        int notReady = 0;
        for (int attempt = 0; attempt < gateways.size(); attempt++) {
            int index = (first + attempt) % gateways.size();
            Gateway g = gateways.get(index);
            if (readiness != null && !readiness.get(index)) {
                notReady++;
                continue;
            }
            RawHttp.Response response;
            try {
                int connectTimeout = (int) Math.max(1, Math.min(2000, (deadline - System.nanoTime()) / 1_000_000));
                response = RawHttp.post(g.host(), g.port(), path, body, connectTimeout, deadline);
            } catch (RawHttp.NotConnected e) {
                refused++;
                refusals = (refusals == null ? "" : refusals + "; ") + g.name() + ": " + e.getMessage();
                if (System.nanoTime() >= deadline) {
                    break;
                }
                continue;
            } catch (RawHttp.DeadlineExceeded e) {
                return Outcome.failure(seq, g.name(), start, now(), Outcome.Kind.TIMEOUT, e.getMessage(), refused,
                        notReady);
            } catch (IOException e) {
                return Outcome.failure(seq, g.name(), start, now(), Outcome.Kind.CONNECTION_LOST, e.toString(),
                        refused, notReady);
            }
            return classify(seq, g, start, response, refused, notReady);
        }
        return Outcome.failure(seq, "-", start, now(), Outcome.Kind.CONNECT_FAILED, "no gateway took the request ("
                + notReady + " not ready" + (refusals == null ? "" : "; refused: " + refusals) + ")", refused,
                notReady);
    }

    private Outcome classify(long seq, Gateway g, double start, RawHttp.Response r, int refused, int notReady) {
        double end = now();
        JsonNode json;
        try {
            json = MAPPER.readTree(r.body());
        } catch (IOException e) {
            json = null;
        }
        if (r.status() != 200) {
            String error = json != null && json.path("error").isTextual() ? json.get("error").asText() : null;
            return new Outcome(seq, g.name(), start, end, Outcome.Kind.HTTP_ERROR, r.status(),
                    error != null ? error : abbreviate(r.body()), error != null, null, null, false, refused, notReady, null);
        }
        String problem = json == null ? "not JSON" : checkAnswer(json);
        if (problem != null) {
            return new Outcome(seq, g.name(), start, end, Outcome.Kind.BAD_RESPONSE, 200, problem + ": "
                    + abbreviate(r.body()), false, null, null, false, refused, notReady, null);
        }
        JsonNode p = json.path("parameters");
        return new Outcome(seq, g.name(), start, end, Outcome.Kind.OK, 200, null, false, p.path("node").asText(null),
                p.path("region").asText(null), p.path("served_in_island_mode").asBoolean(false), refused, notReady,
                json.path("model_version").asText(null));
    }

    /**
     * The load balancer's health check: every {@code interval}, {@code GET /v2/health/ready}
     * on each gateway (1 s budget); a gateway is used while its last probe answered 200.
     */
    private void probe(long intervalNanos) {
        while (running) {
            probeOnce();
            LockSupport.parkNanos(this, intervalNanos);
        }
    }

    private void probeOnce() {
        for (int i = 0; i < gateways.size(); i++) {
            Gateway g = gateways.get(i);
            boolean ready;
            try {
                // 3 s: a gateway slow to answer on a loaded machine is not thereby "not ready"
                ready = RawHttp.get(g.host(), g.port(), "/v2/health/ready", 3000,
                        System.nanoTime() + TimeUnit.SECONDS.toNanos(3)).status() == 200;
            } catch (IOException e) {
                ready = false;
            }
            Boolean before = readiness.getAndSet(i, ready);
            if (before == null || before != ready) {
                readinessChanges.add(String.format("+%.1fs %s %s", now() / 1000, g.name(),
                        ready ? "ready" : "NOT ready"));
            }
        }
    }

    /** Null when {@code json} is a complete inference answer, else what is wrong with it. */
    private static String checkAnswer(JsonNode json) {
        JsonNode outputs = json.path("outputs");
        if (!outputs.isArray() || outputs.isEmpty()) {
            return "no outputs";
        }
        for (JsonNode o : outputs) {
            long elements = 1;
            for (JsonNode d : o.path("shape")) {
                elements *= d.asLong();
            }
            if (!o.path("data").isArray() || o.path("data").size() != elements) {
                return "output " + o.path("name").asText() + " has " + o.path("data").size()
                        + " values for shape " + o.path("shape");
            }
        }
        if (!json.path("parameters").path("node").isTextual()) {
            return "no parameters.node";
        }
        return null;
    }

    private static String abbreviate(String s) {
        return s.length() <= 300 ? s : s.substring(0, 297) + "...";
    }

    /** An OIP request for the demo model: one row of {@link DemoModel#sampleFeatures}. */
    static byte[] demoRequest(String id, long seq, int timeoutMillis, List<String> residency) {
        ObjectNode n = MAPPER.createObjectNode();
        n.put("id", id);
        ObjectNode params = n.putObject("parameters");
        params.put("timeout_ms", timeoutMillis);
        if (!residency.isEmpty()) {
            ArrayNode r = params.putArray("residency");
            residency.forEach(r::add);
        }
        ObjectNode input = n.putArray("inputs").addObject();
        input.put("name", DemoModel.INPUT);
        input.putArray("shape").add(1).add(DemoModel.FEATURES);
        input.put("datatype", "FP32");
        ArrayNode data = input.putArray("data");
        for (float f : DemoModel.sampleFeatures(seq)) {
            data.add(f);
        }
        return n.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Settings of a driver; {@link #start()} starts sending at once. */
    public static final class Builder {
        private final String name;
        private final List<Gateway> gateways;
        private String model = DemoModel.NAME;
        private String version;
        private double ratePerSecond = 20;
        private int threads = 6;
        private int timeoutMillis = 5000;
        private int graceMillis = 2000;
        private List<String> residency = List.of();
        private LongFunction<byte[]> bodies;
        private Duration probeInterval;

        private Builder(String name, List<Gateway> gateways) {
            if (gateways.isEmpty()) {
                throw new IllegalArgumentException("a load driver needs at least one gateway");
            }
            this.name = Objects.requireNonNull(name);
            this.gateways = List.copyOf(gateways);
        }

        /** Model to call (default: the demo model, with demo inputs). */
        public Builder model(String model) {
            this.model = model;
            return this;
        }

        /** Pin a version ({@code /versions/{v}/infer}); default: the model's serving version. */
        public Builder version(String version) {
            this.version = version;
            return this;
        }

        public Builder ratePerSecond(double rate) {
            if (rate <= 0) {
                throw new IllegalArgumentException("rate must be positive");
            }
            this.ratePerSecond = rate;
            return this;
        }

        public Builder threads(int threads) {
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be at least 1");
            }
            this.threads = threads;
            return this;
        }

        /** The request's budget ({@code parameters.timeout_ms}), default 5 s. */
        public Builder timeout(Duration timeout) {
            this.timeoutMillis = Math.toIntExact(timeout.toMillis());
            return this;
        }

        /** How long past its budget the client still waits for an answer (default 2 s). */
        public Builder grace(Duration grace) {
            this.graceMillis = Math.toIntExact(grace.toMillis());
            return this;
        }

        /** Regions the requests' data may be processed in ({@code parameters.residency}); default unrestricted. */
        public Builder residency(List<String> regions) {
            this.residency = List.copyOf(regions);
            return this;
        }

        /**
         * Model a load balancer with a health check: probe every gateway's
         * {@code GET /v2/health/ready} every {@code interval} and send only to gateways whose
         * last probe answered 200 (requests that passed over one are counted in
         * {@link Outcome#notReadySkips()}). Default: no probe, every gateway is used.
         */
        public Builder readinessProbe(Duration interval) {
            this.probeInterval = interval;
            return this;
        }

        /** Request bodies by sequence number, replacing the demo-model requests (their budget must match). */
        public Builder bodies(LongFunction<byte[]> bodies) {
            this.bodies = bodies;
            return this;
        }

        public LoadDriver start() {
            return new LoadDriver(this);
        }
    }
}
