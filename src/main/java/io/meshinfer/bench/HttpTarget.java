package io.meshinfer.bench;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.protocol.OipBinary;
import io.meshinfer.protocol.OipJson;
import io.meshinfer.tensor.NamedTensor;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;

/**
 * Requests to any Open Inference Protocol HTTP endpoint (meshinfer or another server),
 * JSON or binary tensors, over keep-alive connections of a minimal event-loop HTTP/1.1
 * client (see {@link EventLoopHttp}). Request bodies are encoded once per input set. Only
 * the status and the response's {@code parameters.batch_rows} (from the JSON part of
 * binary responses too) are read back.
 */
public final class HttpTarget implements BenchTarget {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_CACHED_BODIES = 1024;
    private static final int MAX_CONNECTIONS = 256;
    private static final int MAX_WAITING = 20_000;
    private static final long CLIENT_TIMEOUT_MILLIS = 60_000;

    private static final OipJson CODEC = new OipJson(Integer.MAX_VALUE - 8);
    private static final OipBinary BINARY_CODEC = new OipBinary(CODEC);
    private final URI uri;
    private final String model;
    private final boolean binary;
    private final EventLoopHttp http;
    private final Map<List<NamedTensor>, Encoded> encoded = new IdentityHashMap<>();

    /**
     * @param version the version to pin, or null
     * @param binary send inputs and ask for outputs with the binary tensor extension
     */
    public HttpTarget(String baseUrl, String model, String version, boolean binary) throws IOException {
        String base = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
        this.uri = URI.create(base + "/v2/models/" + model + (version == null ? "" : "/versions/" + version) + "/infer");
        this.model = model;
        this.binary = binary;
        this.http = new EventLoopHttp(uri, MAX_CONNECTIONS, MAX_WAITING, CLIENT_TIMEOUT_MILLIS);
    }

    @Override
    public String describe() {
        return (binary ? "HTTP binary tensors " : "HTTP JSON ") + uri;
    }

    @Override
    public CompletionStage<Sample> send(List<NamedTensor> inputs, long timeoutMillis) {
        Encoded body = encode(inputs, timeoutMillis);
        CompletableFuture<EventLoopHttp.Response> answer = binary
                ? http.post(body.bytes(), "application/octet-stream", OipBinary.HEADER_LENGTH + ": " + body.jsonLength())
                : http.post(body.bytes(), "application/json", null);
        return answer.handle((r, e) -> {
            if (e != null) {
                Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                if (cause instanceof SocketTimeoutException) {
                    return Sample.failure("CLIENT_TIMEOUT");
                }
                return Sample.failure(cause instanceof RejectedExecutionException ? "GENERATOR_LIMIT"
                        : cause.getClass().getSimpleName());
            }
            return r.status() == 200 ? Sample.success(batchRows(r.body())) : Sample.failure("HTTP_" + r.status());
        });
    }

    /** A request body and, for binary bodies, the length of its JSON header (0 for JSON). */
    public record Encoded(byte[] bytes, int jsonLength) {
    }

    /**
     * The body this target sends for {@code inputs} to {@code model}: JSON, or with binary
     * inputs and binary outputs asked for. {@code meshinfer bench request} writes the same
     * body for other load generators.
     */
    public static Encoded body(String model, List<NamedTensor> inputs, long timeoutMillis, boolean binary) {
        InferenceRequest r = new InferenceRequest(null, model, null, inputs, List.of(), timeoutMillis, null, null, null);
        if (binary) {
            OipBinary.Body body = BINARY_CODEC.encodeRequest(r, true, true);
            return new Encoded(body.bytes(), body.jsonLength());
        }
        return new Encoded(CODEC.encodeRequest(r), 0);
    }

    /**
     * The body for these inputs, encoded once: a load generator cycles through a fixed set
     * of inputs, and encoding them again for every request would measure the generator.
     */
    private Encoded encode(List<NamedTensor> inputs, long timeoutMillis) {
        synchronized (encoded) {
            Encoded e = encoded.get(inputs);
            if (e != null) {
                return e;
            }
        }
        Encoded e = body(model, inputs, timeoutMillis, binary);
        synchronized (encoded) {
            if (encoded.size() < MAX_CACHED_BODIES) {
                encoded.put(inputs, e);
            }
        }
        return e;
    }

    /**
     * The response's {@code parameters.batch_rows}, or 0. Read as a stream that stops there:
     * a tree of the whole body would make an object per number of the outputs, which for a
     * large output cost the generator more than the server spent answering (a node writes
     * {@code parameters} before {@code outputs}).
     */
    private static int batchRows(byte[] body) {
        // one JSON value: a binary response continues with its raw tensors after the JSON header
        try (JsonParser p = JSON.getFactory().createParser(body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return 0;
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                boolean parameters = "parameters".equals(p.currentName());
                if (p.nextToken() == JsonToken.START_OBJECT && parameters) {
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        boolean rows = "batch_rows".equals(p.currentName());
                        JsonToken value = p.nextToken();
                        if (rows) {
                            return value == JsonToken.VALUE_NUMBER_INT ? p.getIntValue() : 0;
                        }
                        p.skipChildren();
                    }
                    return 0;
                }
                p.skipChildren();
            }
            return 0;
        } catch (IOException e) {
            return 0; // not JSON, or batch_rows beyond an int
        }
    }

    @Override
    public void close() {
        http.close();
    }
}
