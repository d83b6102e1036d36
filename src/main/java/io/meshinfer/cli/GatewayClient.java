package io.meshinfer.cli;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The CLI's HTTP client for a node's gateway (admin and Open Inference Protocol). When
 * the environment variable {@value #TOKEN_ENV} (or the system property
 * {@value #TOKEN_PROPERTY}) holds a bearer token, every request carries it; an environment
 * variable keeps it off the command line, where other users of the machine could read it.
 */
final class GatewayClient {
    /** The environment variable holding the bearer token the CLI sends. */
    static final String TOKEN_ENV = "MESHINFER_TOKEN";
    /** The system property that may hold it instead (in-process use, tests). */
    static final String TOKEN_PROPERTY = "meshinfer.token";

    /** Status, body and W3C {@code traceparent} header (null if absent) of one exchange. */
    record Reply(int status, String body, String traceparent) {
        Reply(int status, String body) {
            this(status, body, null);
        }

        boolean ok() {
            return status >= 200 && status < 300;
        }
    }

    private final String base;
    private final HttpClient http;

    GatewayClient(String gateway) {
        this(gateway, null);
    }

    /**
     * @param caCert PEM file of the CA(s) to trust for an {@code https:} gateway (e.g. the
     *               cluster's {@code ca.crt}), or null for the JVM's trusted CAs
     * @throws IllegalArgumentException if the file cannot be read as certificates
     */
    GatewayClient(String gateway, Path caCert) {
        this.base = gateway.endsWith("/") ? gateway.substring(0, gateway.length() - 1) : gateway;
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10));
        if (caCert != null) {
            try {
                b.sslContext(io.meshinfer.security.tls.PemFiles.trusting(caCert));
            } catch (IOException | java.security.GeneralSecurityException e) {
                throw new IllegalArgumentException("--ca-cert " + caCert + ": " + e.getMessage(), e);
            }
        }
        this.http = b.build();
    }

    String base() {
        return base;
    }

    Reply get(String path) throws IOException {
        return send(HttpRequest.newBuilder(uri(path)).GET().timeout(Duration.ofSeconds(30)));
    }

    Reply postJson(String path, byte[] body, Duration timeout) throws IOException {
        return postJson(path, body, timeout, null);
    }

    /** @param traceparent a W3C {@code traceparent} to continue, or null to let the node start a trace */
    Reply postJson(String path, byte[] body, Duration timeout, String traceparent) throws IOException {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).timeout(timeout);
        if (traceparent != null) {
            b.header("traceparent", traceparent);
        }
        return send(b);
    }

    Reply putFile(String path, Path file) throws IOException {
        return putFile(path, file, sent -> { });
    }

    /** Uploads {@code file}, telling {@code progress} how many bytes the client has read from it so far. */
    Reply putFile(String path, Path file, java.util.function.LongConsumer progress) throws IOException {
        long size = java.nio.file.Files.size(file);
        HttpRequest.BodyPublisher body = HttpRequest.BodyPublishers.fromPublisher(
                HttpRequest.BodyPublishers.ofInputStream(() -> counting(file, progress)), size);
        return send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/octet-stream")
                .PUT(body).timeout(Duration.ofMinutes(10)));
    }

    private static java.io.InputStream counting(Path file, java.util.function.LongConsumer progress) {
        try {
            return new java.io.FilterInputStream(java.nio.file.Files.newInputStream(file)) {
                private long read;

                @Override
                public int read() throws IOException {
                    int b = super.read();
                    if (b >= 0) {
                        progress.accept(++read);
                    }
                    return b;
                }

                @Override
                public int read(byte[] buf, int off, int len) throws IOException {
                    int n = super.read(buf, off, len);
                    if (n > 0) {
                        read += n;
                        progress.accept(read);
                    }
                    return n;
                }
            };
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot read " + file, e);
        }
    }

    /**
     * PUT as {@code multipart/form-data}: the part {@code fileField} streamed from {@code file},
     * then the part {@code jsonField} holding {@code json}.
     */
    Reply putMultipart(String path, String fileField, Path file, String jsonField, byte[] json) throws IOException {
        String boundary = "meshinfer-" + java.util.UUID.randomUUID();
        String fileHead = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + fileField + "\"; filename=\""
                + file.getFileName() + "\"\r\nContent-Type: application/octet-stream\r\n\r\n";
        String jsonHead = "\r\n--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + jsonField
                + "\"\r\nContent-Type: application/json\r\n\r\n";
        String end = "\r\n--" + boundary + "--\r\n";
        HttpRequest.BodyPublisher body = HttpRequest.BodyPublishers.concat(
                HttpRequest.BodyPublishers.ofString(fileHead, StandardCharsets.UTF_8),
                HttpRequest.BodyPublishers.ofFile(file),
                HttpRequest.BodyPublishers.ofString(jsonHead, StandardCharsets.UTF_8),
                HttpRequest.BodyPublishers.ofByteArray(json),
                HttpRequest.BodyPublishers.ofString(end, StandardCharsets.UTF_8));
        return send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .PUT(body).timeout(Duration.ofMinutes(10)));
    }

    Reply putJson(String path, byte[] body, Duration timeout) throws IOException {
        return send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(body)).timeout(timeout));
    }

    Reply delete(String path) throws IOException {
        return send(HttpRequest.newBuilder(uri(path)).DELETE().timeout(Duration.ofSeconds(30)));
    }

    /** The bearer token to send, or null. */
    static String token() {
        String t = System.getProperty(TOKEN_PROPERTY);
        if (t == null || t.isBlank()) {
            t = System.getenv(TOKEN_ENV);
        }
        return t == null || t.isBlank() ? null : t.strip();
    }

    private URI uri(String path) {
        return URI.create(base + path);
    }

    private Reply send(HttpRequest.Builder b) throws IOException {
        String token = token();
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        try {
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            return new Reply(r.statusCode(), r.body(), r.headers().firstValue("traceparent").orElse(null));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (java.net.ConnectException e) {
            throw new IOException("cannot connect to " + base + " (is a node running there?)", e);
        } catch (javax.net.ssl.SSLException e) {
            throw new IOException("TLS with " + base + " failed: " + e.getMessage() + " (an HTTPS gateway: pass the"
                    + " CA that signed its certificate with --ca-cert, e.g. the cluster's ca.crt)", e);
        }
    }
}
