package io.meshinfer.bench;

import io.meshinfer.api.InferenceException;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.client.InferenceClient;
import io.meshinfer.tensor.NamedTensor;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/** Requests through the Java client (an in-process node, or a client-only cluster member). */
public final class ClientTarget implements BenchTarget {
    private final InferenceClient client;
    private final String model;
    private final String version;
    private final String description;
    private final AutoCloseable owner;

    /**
     * @param version the version to pin, or null for the routing table's choice
     * @param owner closed with this target (the node or member behind the client), or null
     */
    public ClientTarget(InferenceClient client, String model, String version, String description,
                        AutoCloseable owner) {
        this.client = client;
        this.model = model;
        this.version = version;
        this.description = description;
        this.owner = owner;
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public CompletionStage<Sample> send(List<NamedTensor> inputs, long timeoutMillis) {
        InferenceRequest r = new InferenceRequest(null, model, version, inputs, List.of(), timeoutMillis, null, null, null);
        return client.infer(r).handle((resp, error) -> {
            if (error == null) {
                return Sample.success(resp.batchRows());
            }
            Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
            return Sample.failure(cause instanceof InferenceException ie ? ie.kind().name()
                    : cause.getClass().getSimpleName());
        });
    }

    @Override
    public void close() throws Exception {
        if (owner != null) {
            owner.close();
        }
    }
}
