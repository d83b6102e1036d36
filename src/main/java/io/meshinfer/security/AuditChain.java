package io.meshinfer.security;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * The line format of the audit log. Each record is one line of JSON:
 * <pre>{"seq":7,"time":"...","id":...,"principal":...,"action":...,"model":...,"version":...,
 *  "node":...,"region":...,"residency":[...],"outcome":...,"latency_ms":1.234,"via":...,
 *  "detail":...,["trace_id":...,"span_id":...,"parent_span_id":...,]
 *  "prev":"&lt;sha256 of record 6&gt;","hash":"&lt;sha256 of this record&gt;"}</pre>
 * The trace fields are present only on records about a traced request (records written
 * before they existed have none, and verify as before: a record's hash covers its line as
 * written, whatever fields it holds).
 * {@code hash} is the SHA-256 (hex) of the line's UTF-8 bytes up to {@code "prev":"..."},
 * closed with {@code }}, i.e. the line without its {@code ,"hash":"..."} suffix; so it
 * covers {@code prev}, and each record vouches for the whole chain before it. {@code seq}
 * counts records across files from 1; the first record's {@code prev} is {@link #GENESIS}.
 * Every file starts with an {@value #OPEN_ACTION} record (on start-up and after each
 * rotation) that chains to the last record of the file before it.
 */
public final class AuditChain {
    /** The {@code prev} of the very first record. */
    public static final String GENESIS = "0".repeat(64);
    /** The action of the record that opens every file. */
    public static final String OPEN_ACTION = "audit.open";

    private static final JsonFactory FACTORY = new JsonFactory();
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final String HASH_PREFIX = ",\"hash\":\"";
    /** {@code ,"hash":"} + 64 hex digits + {@code "}}. */
    private static final int SUFFIX_LENGTH = HASH_PREFIX.length() + 64 + 2;
    private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");

    private AuditChain() {
    }

    /** A record as it stands in the chain: its line (without line end) and its hash. */
    public record Line(long seq, String text, String hash) {
    }

    /** Encodes {@code r} as record {@code seq} chained to {@code prev}. */
    public static Line encode(long seq, String prev, AuditRecord r) {
        StringWriter w = new StringWriter(256);
        try (JsonGenerator g = FACTORY.createGenerator(w)) {
            g.writeStartObject();
            g.writeNumberField("seq", seq);
            g.writeStringField("time", r.time().toString());
            g.writeStringField("id", r.id());
            g.writeStringField("principal", r.principal());
            g.writeStringField("action", r.action());
            g.writeStringField("model", r.model());
            g.writeStringField("version", r.version());
            g.writeStringField("node", r.node());
            g.writeStringField("region", r.region());
            g.writeArrayFieldStart("residency");
            for (String region : r.residency()) {
                g.writeString(region);
            }
            g.writeEndArray();
            g.writeStringField("outcome", r.outcome());
            g.writeFieldName("latency_ms");
            g.writeNumber(BigDecimal.valueOf(r.latencyMillis()).setScale(3, RoundingMode.HALF_UP));
            g.writeStringField("via", r.via());
            g.writeStringField("detail", r.detail());
            if (r.traceId() != null) {
                g.writeStringField("trace_id", r.traceId());
                g.writeStringField("span_id", r.spanId());
                g.writeStringField("parent_span_id", r.parentSpanId());
            }
            g.writeStringField("prev", prev);
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot encode an audit record", e);
        }
        String body = w.toString();
        String hash = sha256(body);
        return new Line(seq, body.substring(0, body.length() - 1) + HASH_PREFIX + hash + "\"}", hash);
    }

    /** SHA-256 of a string's UTF-8 bytes, in lower-case hex. */
    public static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    /** What a line says about itself: well-formed or not, its own hash checked or not. */
    public record Parsed(boolean wellFormed, boolean hashMatches, long seq, String prev, String hash, String action,
                         String problem) {
        static Parsed garbled(String problem) {
            return new Parsed(false, false, -1, null, null, null, problem);
        }
    }

    /** Reads a line back; never throws. */
    public static Parsed parse(String line) {
        if (line.length() < SUFFIX_LENGTH + 2 || !line.startsWith("{")) {
            return Parsed.garbled("not an audit record");
        }
        int cut = line.length() - SUFFIX_LENGTH;
        String suffix = line.substring(cut);
        String hash = suffix.length() == SUFFIX_LENGTH && suffix.startsWith(HASH_PREFIX) && suffix.endsWith("\"}")
                ? suffix.substring(HASH_PREFIX.length(), HASH_PREFIX.length() + 64) : null;
        if (hash == null || !HEX64.matcher(hash).matches()) {
            return Parsed.garbled("no record hash at its end");
        }
        String body = line.substring(0, cut) + "}";
        JsonNode n;
        try {
            n = MAPPER.readTree(body);
        } catch (IOException e) {
            return Parsed.garbled("not valid JSON");
        }
        if (n == null || !n.isObject() || !n.path("seq").canConvertToLong() || !n.path("seq").isIntegralNumber()
                || !n.path("prev").isTextual() || !HEX64.matcher(n.path("prev").asText()).matches()
                || !n.path("action").isTextual()) {
            return Parsed.garbled("lacks seq, prev or action");
        }
        return new Parsed(true, sha256(body).equals(hash), n.get("seq").asLong(), n.get("prev").asText(), hash,
                n.get("action").asText(), null);
    }
}
