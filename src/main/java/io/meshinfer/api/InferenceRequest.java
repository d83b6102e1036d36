package io.meshinfer.api;

import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * One inference request: which model (and optionally which version), its named input
 * tensors, which outputs to return (empty: all), how long the caller will wait, and the
 * regions its data may be processed in (empty: any), and an optional routing key: requests
 * with the same key go to the same version while a rollout splits traffic (sticky routing),
 * and who it acts for ({@link Principal}, from a bearer token; null for a trusted
 * in-process caller or a node without authentication), and where it stands in a distributed
 * trace ({@link TraceContext}: the span of the hop now working on it; never null, a request
 * built without one starts a new trace).
 *
 * <p>The timeout is a budget relative to when the request is accepted, not a wall-clock
 * instant, so clock skew between nodes cannot expire or extend it.
 */
public record InferenceRequest(
        String id,
        String model,
        String version,
        List<NamedTensor> inputs,
        List<String> outputs,
        long timeoutMillis,
        Set<String> residency,
        String routingKey,
        Principal principal,
        TraceContext trace) {

    public InferenceRequest {
        if (model == null || model.isEmpty()) {
            throw new IllegalArgumentException("model is required");
        }
        if (inputs == null) {
            throw new IllegalArgumentException("inputs are required");
        }
        if (timeoutMillis <= 0) {
            throw new IllegalArgumentException("timeout must be positive, got " + timeoutMillis + " ms");
        }
        id = id == null || id.isEmpty() ? newId() : id;
        version = version == null || version.isEmpty() ? null : version;
        inputs = List.copyOf(inputs);
        outputs = outputs == null ? List.of() : List.copyOf(outputs);
        residency = residency == null ? Set.of() : Set.copyOf(residency);
        routingKey = routingKey == null || routingKey.isEmpty() ? null : routingKey;
        trace = trace == null ? TraceContext.newTrace() : trace;
    }

    /** A request that starts a new trace. */
    public InferenceRequest(String id, String model, String version, List<NamedTensor> inputs, List<String> outputs,
                            long timeoutMillis, Set<String> residency, String routingKey, Principal principal) {
        this(id, model, version, inputs, outputs, timeoutMillis, residency, routingKey, principal, null);
    }

    /**
     * A fresh request id: 128 random bits in hex. Not a secret, so ThreadLocalRandom (a
     * SecureRandom-backed UUID costs more than routing the request).
     */
    public static String newId() {
        java.util.concurrent.ThreadLocalRandom r = java.util.concurrent.ThreadLocalRandom.current();
        return Long.toHexString(r.nextLong() | Long.MIN_VALUE) + Long.toHexString(r.nextLong() | Long.MIN_VALUE);
    }

    public Duration timeout() {
        return Duration.ofMillis(timeoutMillis);
    }

    /** A copy of this request with another timeout budget. */
    public InferenceRequest withTimeoutMillis(long millis) {
        return new InferenceRequest(id, model, version, inputs, outputs, millis, residency, routingKey, principal,
                trace);
    }

    /** A copy of this request acting for {@code principal}. */
    public InferenceRequest withPrincipal(Principal principal) {
        return new InferenceRequest(id, model, version, inputs, outputs, timeoutMillis, residency, routingKey,
                principal, trace);
    }

    /** A copy of this request acting for {@code principal} in the trace span {@code trace}. */
    public InferenceRequest withPrincipalAndTrace(Principal principal, TraceContext trace) {
        return new InferenceRequest(id, model, version, inputs, outputs, timeoutMillis, residency, routingKey,
                principal, trace);
    }

    /** A copy of this request in the trace span {@code trace}. */
    public InferenceRequest withTrace(TraceContext trace) {
        return new InferenceRequest(id, model, version, inputs, outputs, timeoutMillis, residency, routingKey,
                principal, trace);
    }

    /** A copy of this request held to another residency. */
    public InferenceRequest withResidency(Set<String> residency) {
        return new InferenceRequest(id, model, version, inputs, outputs, timeoutMillis, residency, routingKey,
                principal, trace);
    }

    public static Builder builder(String model) {
        return new Builder(model);
    }

    /** Builds requests for the Java client; the timeout defaults to the caller's choice. */
    public static final class Builder {
        private final String model;
        private String id;
        private String version;
        private final List<NamedTensor> inputs = new ArrayList<>();
        private final List<String> outputs = new ArrayList<>();
        private long timeoutMillis = 10_000;
        private final Set<String> residency = new LinkedHashSet<>();
        private String routingKey;
        private Principal principal;
        private TraceContext caller;

        private Builder(String model) {
            this.model = model;
        }

        public Builder id(String id) {
            this.id = id;
            return this;
        }

        public Builder version(String version) {
            this.version = version;
            return this;
        }

        public Builder input(String name, Tensor tensor) {
            inputs.add(new NamedTensor(name, tensor));
            return this;
        }

        public Builder inputs(List<NamedTensor> tensors) {
            inputs.addAll(tensors);
            return this;
        }

        public Builder output(String name) {
            outputs.add(name);
            return this;
        }

        public Builder timeout(Duration timeout) {
            this.timeoutMillis = timeout.toMillis();
            return this;
        }

        /** Restricts where the data may be processed to these regions. */
        public Builder residency(String... regions) {
            residency.addAll(List.of(regions));
            return this;
        }

        /** Keeps requests with this key on one version while a rollout splits traffic. */
        public Builder routingKey(String key) {
            this.routingKey = key;
            return this;
        }

        /** Acts for {@code principal}: its models and regions apply as if it had sent a token. */
        public Builder principal(Principal principal) {
            this.principal = principal;
            return this;
        }

        /**
         * Continues the caller's trace from its W3C {@code traceparent} ({@code 00-<trace id>-<span
         * id>-<flags>}): the request gets the same trace id and a span of its own whose parent is
         * the caller's span. A null or invalid value starts a new trace, as leaving it out does.
         */
        public Builder traceparent(String traceparent) {
            this.caller = TraceContext.parse(traceparent);
            return this;
        }

        /** Continues the caller's trace: {@code caller} is the calling span (null: start a new trace). */
        public Builder parentTrace(TraceContext caller) {
            this.caller = caller;
            return this;
        }

        public InferenceRequest build() {
            return new InferenceRequest(id, model, version, inputs, outputs, timeoutMillis, residency, routingKey,
                    principal, TraceContext.continueFrom(caller));
        }
    }
}
