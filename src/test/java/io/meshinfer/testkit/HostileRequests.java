package io.meshinfer.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Random;

/**
 * Open Inference Protocol request bodies a hostile client might send, generated from a
 * seeded {@link Random}: valid requests parsed into a tree and mutated where it hurts
 * (wrong types, huge and negative numbers, shapes claiming 10^12 elements or thousands of
 * dimensions, nesting past the parser's limit, long strings, many keys, duplicate keys,
 * missing fields, truncation), and binary-extension bodies with wrong header lengths,
 * wrong {@code binary_data_size}s, and short, long or invalid raw tails. The same seed gives
 * the same bodies. The largest body is about 2 MB.
 */
public final class HostileRequests {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    /** Stands for a nesting too deep for the tree writer; replaced in the text. */
    private static final String DEEP = "@@deep@@";

    /** Valid requests the mutations start from (inputs x FP32 [2,2] and b BOOL [3], and others). */
    public static final List<String> SEEDS = List.of(
        "{\"id\":\"a\",\"parameters\":{\"timeout_ms\":5,\"residency\":[\"eu\"],\"routing_key\":\"k\"},"
                + "\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[2,2],\"data\":[[1.5,2],[3,-4e3]]},"
                + "{\"name\":\"b\",\"datatype\":\"BOOL\",\"shape\":[3],\"data\":[true,false,1]}],"
                + "\"outputs\":[{\"name\":\"y\",\"parameters\":{\"binary_data\":true}}]}",
        "{\"inputs\":[{\"data\":[1,2,3,4,5,6],\"name\":\"i\",\"shape\":[1,2,3],\"datatype\":\"INT64\"},"
                + "{\"name\":\"u\",\"shape\":[2],\"datatype\":\"UINT8\",\"data\":[255,0]},"
                + "{\"name\":\"d\",\"datatype\":\"FP64\",\"shape\":[],\"data\":[\"-inf\"]}],"
                + "\"parameters\":{\"timeout_ms\":\"77\",\"residency\":\"a,b\",\"binary_data_output\":false}}",
        "{\"inputs\":[{\"name\":\"s\",\"datatype\":\"INT16\",\"shape\":[4],\"data\":[-32768,0,1,32767]},"
                + "{\"name\":\"t\",\"datatype\":\"INT8\",\"shape\":[0,5],\"data\":[]}],\"outputs\":[]}");

    /** A body and the {@code Inference-Header-Content-Length} value sent with it (null: no header). */
    public record Body(byte[] bytes, String headerLength) {
    }

    private HostileRequests() {
    }

    /** A mutation of one of {@link #SEEDS} (or of {@code seed} if given), as UTF-8 JSON. */
    public static byte[] json(Random random) {
        return json(SEEDS.get(random.nextInt(SEEDS.size())), random);
    }

    /** A mutation of the valid request {@code seed}, as UTF-8 JSON. */
    public static byte[] json(String seed, Random random) {
        try {
            JsonNode tree = MAPPER.readTree(seed);
            for (int n = 1 + random.nextInt(3); n > 0; n--) {
                tree = mutateTree(tree, random);
            }
            String text = deepen(MAPPER.writeValueAsString(tree));
            switch (random.nextInt(8)) {
                case 0 -> text = text.substring(0, random.nextInt(text.length() + 1));
                case 1 -> text = duplicateAKey(text, random);
                default -> {
                }
            }
            return text.getBytes(StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }


    /** Replaces, removes, wraps or adds one node somewhere in the tree; returns the new root. */
    private static JsonNode mutateTree(JsonNode root, Random random) {
        List<JsonNode> containers = new ArrayList<>();
        collectContainers(root, containers);
        JsonNode target = containers.get(random.nextInt(containers.size()));
        if (target instanceof ObjectNode o) {
            List<String> names = new ArrayList<>();
            o.fieldNames().forEachRemaining(names::add);
            String field = names.isEmpty() || random.nextInt(5) == 0 ? pickFieldName(random)
                    : names.get(random.nextInt(names.size()));
            switch (random.nextInt(4)) {
                case 0 -> o.remove(field);
                case 1 -> o.set(field, wrap(o.get(field), random));
                default -> o.set(field, hostileValue(field, random));
            }
        } else if (target instanceof ArrayNode a) {
            int size = a.size();
            switch (random.nextInt(4)) {
                case 0 -> {
                    if (size > 0) {
                        a.remove(random.nextInt(size));
                    }
                }
                case 1 -> a.add(hostileValue("", random));
                default -> {
                    if (size > 0) {
                        a.set(random.nextInt(size), hostileValue("", random));
                    } else {
                        a.add(hostileValue("", random));
                    }
                }
            }
        }
        return root;
    }

    private static void collectContainers(JsonNode n, List<JsonNode> out) {
        if (n.isContainerNode()) {
            out.add(n);
            for (Iterator<JsonNode> it = n.elements(); it.hasNext(); ) {
                collectContainers(it.next(), out);
            }
        }
    }

    private static String pickFieldName(Random random) {
        String[] names = {"id", "inputs", "outputs", "parameters", "name", "datatype", "shape", "data",
            "timeout_ms", "residency", "routing_key", "binary_data_output", "binary_data", "binary_data_size",
            "unknown", ""};
        return names[random.nextInt(names.length)];
    }

    private static JsonNode wrap(JsonNode n, Random random) {
        JsonNode inner = n == null ? NODES.nullNode() : n;
        return random.nextBoolean() ? NODES.arrayNode().add(inner) : NODES.objectNode().set("v", inner);
    }

    /** A value a hostile client might put in {@code field}: shapes get shape-like abuse. */
    private static JsonNode hostileValue(String field, Random random) {
        if (field.equals("shape") && random.nextBoolean()) {
            ArrayNode shape = NODES.arrayNode();
            int rank = random.nextInt(10) == 0 ? 100 + random.nextInt(10_000) : random.nextInt(6);
            long[] dims = {0, 1, 2, -1, 3, 1_000_000, 1_000_000_000_000L, Integer.MAX_VALUE, Long.MAX_VALUE,
                1L << 32};
            for (int d = 0; d < rank; d++) {
                shape.add(dims[random.nextInt(dims.length)]);
            }
            return shape;
        }
        return switch (random.nextInt(14)) {
            case 0 -> NODES.nullNode();
            case 1 -> NODES.booleanNode(random.nextBoolean());
            case 2 -> NODES.numberNode(new java.math.BigInteger("9".repeat(1 + random.nextInt(400))));
            case 3 -> NODES.numberNode(new java.math.BigDecimal("1e" + (random.nextBoolean() ? "" : "-")
                    + random.nextInt(1_000_000_000)));
            case 4 -> NODES.numberNode(random.nextLong());
            case 5 -> NODES.numberNode(random.nextInt(5) - 1);
            case 6 -> NODES.numberNode(random.nextDouble() * 1e6);
            case 7 -> NODES.textNode("x".repeat(random.nextInt(5) == 0 ? 70_000 : random.nextInt(300)));
            case 8 -> NODES.textNode(new String[] {"", "FP32", "BOOL", "NaN", "-Infinity", "eu,us,", "\u0000\uffff",
                "\ud83d\ude00", "BYTES", "FP16"}[random.nextInt(10)]);
            case 9 -> random.nextInt(3) == 0 ? NODES.textNode(DEEP) : deeplyNested(1 + random.nextInt(60), random);
            case 10 -> {
                ArrayNode big = NODES.arrayNode();
                for (int k = random.nextInt(5_000); k > 0; k--) {
                    big.add(random.nextInt(3) == 0 ? NODES.textNode("y") : NODES.numberNode(random.nextInt(300)));
                }
                yield big;
            }
            case 11 -> {
                ObjectNode many = NODES.objectNode();
                for (int k = random.nextInt(2_000); k > 0; k--) {
                    many.put("k" + k, k);
                }
                yield many;
            }
            case 12 -> NODES.arrayNode();
            default -> NODES.objectNode();
        };
    }

    /** Nesting past the parser's limit of 1000, written as text: the tree writer refuses it. */
    private static String deepen(String text) {
        return text.replace("\"" + DEEP + "\"", "[".repeat(600) + "{\"a\":".repeat(600) + "1" + "}".repeat(600)
                + "]".repeat(600));
    }

    private static JsonNode deeplyNested(int depth, Random random) {
        JsonNode n = NODES.numberNode(1);
        for (int d = 0; d < depth; d++) {
            n = random.nextBoolean() ? NODES.arrayNode().add(n) : NODES.objectNode().set("a", n);
        }
        return n;
    }

    /** Puts a second copy of one key right after an object's opening brace. */
    private static String duplicateAKey(String text, Random random) {
        List<Integer> braces = new ArrayList<>();
        for (int i = 0; i < text.length(); i++) {
            if (text.charAt(i) == '{') {
                braces.add(i);
            }
        }
        if (braces.isEmpty()) {
            return text;
        }
        int at = braces.get(random.nextInt(braces.size())) + 1;
        String key = pickFieldName(random);
        String value = new String[] {"1", "\"x\"", "[]", "{}", "null", "[1,2]"}[random.nextInt(6)];
        return text.substring(0, at) + "\"" + key + "\":" + value + (text.charAt(at) == '}' ? "" : ",")
                + text.substring(at);
    }

    // ---------------------------------------------------------------- binary mutations


    /** A binary-extension request (FP32 and BOOL tensors as raw bytes), mutated. */
    public static Body binary(Random random) {
        try {
            return binaryCase(random);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static Body binaryCase(Random random) throws java.io.IOException {
        // a valid binary request first: two tensors as raw bytes after the JSON
        int n = 1 + random.nextInt(6);
        String header = "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[" + n + "],"
                + "\"parameters\":{\"binary_data_size\":" + 4 * n + "}},{\"name\":\"b\",\"datatype\":\"BOOL\","
                + "\"shape\":[2],\"parameters\":{\"binary_data_size\":2}}]}";
        JsonNode tree = MAPPER.readTree(header);
        if (random.nextInt(3) == 0) {
            tree = mutateTree(tree, random);
        }
        if (random.nextInt(3) == 0) {
            if (tree.path("inputs").path(random.nextInt(2)).path("parameters") instanceof ObjectNode params) {
                long[] sizes = {0, 1, 3, 4L * n - 1, 4L * n + 1, 1L << 30, 1L << 40, Long.MAX_VALUE, -4};
                params.put("binary_data_size", sizes[random.nextInt(sizes.length)]);
            }
        }
        byte[] json = deepen(MAPPER.writeValueAsString(tree)).getBytes(StandardCharsets.UTF_8);
        byte[] tail = new byte[4 * n + 2];
        random.nextBytes(tail);
        tail[4 * n] = (byte) random.nextInt(2);
        tail[4 * n + 1] = (byte) (random.nextInt(4) == 0 ? 7 : 1);
        switch (random.nextInt(4)) {
            case 0 -> tail = java.util.Arrays.copyOf(tail, random.nextInt(tail.length + 1));
            case 1 -> tail = java.util.Arrays.copyOf(tail, tail.length + 1 + random.nextInt(8));
            default -> {
            }
        }
        byte[] body = new byte[json.length + tail.length];
        System.arraycopy(json, 0, body, 0, json.length);
        System.arraycopy(tail, 0, body, json.length, tail.length);
        String[] lengths = {Integer.toString(json.length), Integer.toString(json.length), Integer.toString(json.length),
            Integer.toString(json.length - 1 - random.nextInt(5)), Integer.toString(json.length + 1 + random.nextInt(5)),
            "0", "-1", " " + json.length + " ", "1e3", "99999999999999999999999", "", "abc", null};
        return new Body(body, lengths[random.nextInt(lengths.length)]);
    }
}
