package io.meshinfer.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.protocol.OipJson;
import io.meshinfer.tensor.NamedTensor;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * Requests to any Open Inference Protocol HTTP endpoint (meshinfer or another server),
 * JSON bodies, through the JDK's HTTP client. Only the status and the response's
 * {@code parameters.batch_rows} (when present) are read back.
 */
public final class HttpTarget implements BenchTarget {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private final OipJson codec = new OipJson(Integer.MAX_VALUE - 8);
    private final io.meshinfer.protocol.OipBinary binaryCodec = new io.meshinfer.protocol.OipBinary(codec);
    private final URI uri;
    private final String model;
    private final boolean binary;

    /**
     * @param version the version to pin, or null
     * @param binary send inputs and ask for outputs with the binary tensor extension
     */
    public HttpTarget(String baseUrl, String model, String version, boolean binary) {
        this.binary = binary;
        String base = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
        this.uri = URI.create(base + "/v2/models/" + model + (version == null ? "" : "/versions/" + version) + "/infer");
        this.model = model;
    }

    @Override
    public String describe() {
        return (binary ? "HTTP binary tensors " : "HTTP JSON ") + uri;
    }

    @Override
    public CompletionStage<Sample> send(List<NamedTensor> inputs, long timeoutMillis) {
        InferenceRequest r = new InferenceRequest(null, model, null, inputs, List.of(), timeoutMillis, null);
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofMillis(timeoutMillis + 2000));
        if (binary) {
            io.meshinfer.protocol.OipBinary.Body body = binaryCodec.encodeRequest(r, true, true);
            b.header("Content-Type", "application/octet-stream")
                    .header(io.meshinfer.protocol.OipBinary.HEADER_LENGTH, String.valueOf(body.jsonLength()))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(body.bytes()));
        } else {
            b.header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(codec.encodeRequest(r)));
        }
        HttpRequest req = b.build();
        return http.sendAsync(req, HttpResponse.BodyHandlers.ofByteArray()).handle((resp, e) -> {
            if (e != null) {
                Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                return Sample.failure(cause instanceof HttpTimeoutException ? "CLIENT_TIMEOUT"
                        : cause.getClass().getSimpleName());
            }
            if (resp.statusCode() != 200) {
                return Sample.failure("HTTP_" + resp.statusCode());
            }
            return Sample.success(binary ? 0 : batchRows(resp.body()));
        });
    }

    private static int batchRows(byte[] body) {
        try {
            JsonNode rows = JSON.readTree(body).path("parameters").path("batch_rows");
            return rows.isInt() ? rows.asInt() : 0;
        } catch (java.io.IOException e) {
            return 0;
        }
    }
}
