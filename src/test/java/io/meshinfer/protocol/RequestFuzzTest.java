package io.meshinfer.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.typesafe.config.ConfigFactory;
import io.meshinfer.api.InferenceException.InvalidInput;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testkit.HostileRequests;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Structure-aware fuzzing of the Open Inference Protocol request decoders, seeded: bodies
 * from {@link HostileRequests} (valid requests mutated where a hostile client would poke:
 * wrong types, huge and negative numbers, shapes claiming 10^12 elements, deep nesting, long
 * strings, duplicate keys, missing fields, truncation, wrong binary sizes), decoded with the
 * default limits and with small ones. Every case ends in a request that keeps every limit
 * or in an {@link InvalidInput} with a short message; nothing else escapes, no case takes
 * long, and no decode allocates much more than its body. {@code OipJsonTest} and {@code OipBinaryTest}
 * fuzz the same decoders at the character and byte level.
 */
class RequestFuzzTest {
    private static final long DEFAULT_TIMEOUT = 5_000;
    private static final long MAX_TIMEOUT = 60_000;
    private static final InputLimits DEFAULTS = InputLimits.fromConfig(ConfigFactory.defaultReference());
    private static final InputLimits SMALL = new InputLimits(3, 64, 256, 512, 4096, 4, 4, 16, 16, 16, 4);
    private static final List<OipBinary> CODECS = List.of(new OipBinary(new OipJson(DEFAULTS)),
            new OipBinary(new OipJson(SMALL)));
    private static final List<InputLimits> LIMITS = List.of(DEFAULTS, SMALL);

    @Test
    void mutatedJsonRequestsEndInARequestOrInvalidInput() {
        Map<String, Integer> outcomes = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> fuzz(6000, 21,
                (random, codec) -> {
                    byte[] body = HostileRequests.json(random);
                    return () -> codec.decodeRequest(body, null, "m", null, DEFAULT_TIMEOUT, MAX_TIMEOUT);
                }));
        assertTrue(outcomes.get("accepted") > 300 && outcomes.get("refused") > 3000, outcomes.toString());
    }

    @Test
    void mutatedBinaryRequestsEndInARequestOrInvalidInput() {
        Map<String, Integer> outcomes = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> fuzz(6000, 22,
                (random, codec) -> {
                    HostileRequests.Body b = HostileRequests.binary(random);
                    return () -> codec.decodeRequest(b.bytes(), b.headerLength(), "m", null, DEFAULT_TIMEOUT,
                            MAX_TIMEOUT);
                }));
        assertTrue(outcomes.get("accepted") > 300 && outcomes.get("refused") > 3000, outcomes.toString());
    }

    /** One decode, ready to run. */
    private interface Decode {
        OipBinary.Request run();
    }

    /** Makes case {@code random} for one of the codecs. */
    private interface Case {
        Decode make(Random random, OipBinary codec) throws Exception;
    }

    private static Map<String, Integer> fuzz(int cases, long seed, Case make) throws Exception {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        int accepted = 0;
        int refused = 0;
        long slowest = 0;
        for (int i = 0; i < cases; i++) {
            Random random = new Random(seed * 1_000_003L + i);
            int which = random.nextInt(CODECS.size());
            Decode decode = make.make(random, CODECS.get(which));
            long allocatedBefore = threads.getCurrentThreadAllocatedBytes();
            long start = System.nanoTime();
            try {
                OipBinary.Request r = decode.run();
                keepsTheLimits(r.request(), LIMITS.get(which), i);
                accepted++;
            } catch (InvalidInput e) {
                assertTrue(e.getMessage() != null && !e.getMessage().isEmpty() && e.getMessage().length() < 300,
                        "case " + i + ": " + e.getMessage());
                refused++;
            } catch (RuntimeException e) {
                fail("case " + i + " escaped the decoder: " + e, e);
            }
            slowest = Math.max(slowest, System.nanoTime() - start);
            long allocated = threads.getCurrentThreadAllocatedBytes() - allocatedBefore;
            // the largest case body is about 2 MB (deep nesting, long strings): a decode may
            // allocate a few times its body, never what a claimed shape or size asks for
            assertTrue(allocated < 32 << 20, "case " + i + " allocated " + allocated + " bytes");
        }
        // a pathological case (quadratic work on some shape of input) takes far longer than this;
        // the bound is loose so that a busy machine's pause is not mistaken for one
        assertTrue(slowest < Duration.ofSeconds(10).toNanos(), "slowest case took " + slowest / 1_000_000 + " ms");
        return Map.of("accepted", accepted, "refused", refused);
    }

    private static void keepsTheLimits(InferenceRequest r, InputLimits limits, int i) {
        String at = "case " + i + ": ";
        assertTrue(r.inputs().size() <= limits.maxTensors(), at + "inputs");
        assertTrue(r.outputs().size() <= limits.maxRequestedOutputs(), at + "outputs");
        assertTrue(r.residency().size() <= limits.maxResidencyRegions(), at + "residency");
        assertTrue(r.id().length() <= Math.max(32, limits.maxIdLength()), at + "id");
        assertTrue(r.routingKey() == null || r.routingKey().length() <= limits.maxParameterLength(), at + "key");
        long elements = 0;
        long bytes = 0;
        for (NamedTensor t : r.inputs()) {
            Tensor tensor = t.tensor();
            assertTrue(t.name().length() <= limits.maxNameLength(), at + "name");
            assertTrue(tensor.rank() <= limits.maxRank(), at + "rank");
            for (int d = 0; d < tensor.rank(); d++) {
                assertTrue(tensor.dim(d) >= 0 && tensor.dim(d) <= limits.maxDimension(), at + "dimension");
            }
            assertEquals(Tensor.elementCount(tensor.shape()), tensor.size(), at + "size");
            assertTrue(tensor.size() <= limits.maxTensorElements(), at + "elements");
            elements += tensor.size();
            bytes += tensor.byteSize();
        }
        assertTrue(elements <= limits.maxRequestElements() && bytes <= limits.maxRequestBytes(), at + "totals");
        assertTrue(r.timeoutMillis() > 0 && r.timeoutMillis() <= MAX_TIMEOUT, at + "timeout");
    }

}
