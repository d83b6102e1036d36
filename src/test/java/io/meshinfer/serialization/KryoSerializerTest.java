package io.meshinfer.serialization;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.api.EnsembleReport;
import io.meshinfer.api.ErrorKind;
import io.meshinfer.api.InferenceError;
import io.meshinfer.api.InferenceRequest;
import io.meshinfer.api.InferenceResponse;
import io.meshinfer.api.Principal;
import io.meshinfer.api.TraceContext;
import io.meshinfer.node.MeshConfig;
import io.meshinfer.registry.Attestation;
import io.meshinfer.registry.EnsembleSpec;
import io.meshinfer.registry.GoldenVectors;
import io.meshinfer.registry.ModelEntry;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.runtime.ModelSignature;
import io.meshinfer.runtime.TensorSpec;
import io.meshinfer.shard.ModelReplica;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.io.NotSerializableException;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.cluster.ddata.LWWMap;
import org.apache.pekko.cluster.ddata.SelfUniqueAddress;
import org.apache.pekko.cluster.ddata.typed.javadsl.DistributedData;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** Every cluster message through the real serializer bound in meshinfer-pekko.conf. */
class KryoSerializerTest {
    private static final ActorTestKit TESTKIT = ActorTestKit.create("kryo", MeshConfig.load().resolve());
    private static final Serialization SERIALIZATION =
            SerializationExtension.get(Adapter.toClassic(TESTKIT.system()));

    @AfterAll
    static void stop() {
        TESTKIT.shutdownTestKit();
    }

    private static Object roundTrip(Object o) throws NotSerializableException {
        Serializer s = SERIALIZATION.findSerializerFor(o);
        assertInstanceOf(KryoSerializer.class, s, "bound to Kryo: " + o.getClass());
        byte[] bytes = s.toBinary(o);
        return SERIALIZATION.deserialize(bytes, s.identifier(), Serializers.manifestFor(s, o)).get();
    }

    private static List<NamedTensor> everyType() {
        return List.of(
                new NamedTensor("f", Tensor.ofFloats(new long[] {2, 2}, 1f, Float.NaN, Float.NEGATIVE_INFINITY, -0f)),
                new NamedTensor("d", Tensor.ofDoubles(new long[] {1}, Math.PI)),
                new NamedTensor("i8", Tensor.of(DType.INT8, new long[] {2}, new byte[] {-128, 127})),
                new NamedTensor("u8", Tensor.ofUint8(new long[] {2}, (byte) 255, (byte) 0)),
                new NamedTensor("i16", Tensor.of(DType.INT16, new long[] {1}, new short[] {-3})),
                new NamedTensor("i32", Tensor.ofInts(new long[] {0, 4})),
                new NamedTensor("i64", Tensor.ofLongs(new long[] {}, Long.MIN_VALUE)),
                new NamedTensor("b", Tensor.ofBooleans(new long[] {3}, true, false, true)));
    }

    @Test
    void inferMessageWithEveryTensorTypeRoundTrips() throws Exception {
        TestProbe<ModelReplica.Reply> probe = TESTKIT.createTestProbe();
        InferenceRequest req = new InferenceRequest("id-1", "m", "2", everyType(), List.of("out"), 1500,
                Set.of("eu-west", "us-east"), "caller-7",
                new Principal("alice", Set.of("reader"), Set.of("m"), Set.of("eu-west"), "jti-1"),
                new TraceContext(0x4bf92f3577b34da6L, 0xa3ce929d0e0e4736L, -2L, 0x00f067aa0ba902b7L, 0x01));
        ModelReplica.Infer back = (ModelReplica.Infer) roundTrip(new ModelReplica.Infer(req, probe.getRef()));
        assertEquals(probe.getRef(), back.replyTo());
        InferenceRequest r = back.request();
        assertEquals(req.id(), r.id());
        assertEquals(req.model(), r.model());
        assertEquals(req.version(), r.version());
        assertEquals(req.outputs(), r.outputs());
        assertEquals(req.timeoutMillis(), r.timeoutMillis());
        assertEquals(req.residency(), r.residency());
        assertEquals(req.principal(), r.principal());
        assertEquals(req.routingKey(), r.routingKey());
        assertEquals(req.trace(), r.trace(), "the trace context crosses the wire");
        assertEquals("4bf92f3577b34da6a3ce929d0e0e4736", r.trace().traceId());
        assertEquals("00f067aa0ba902b7", r.trace().parentSpanIdHex());
        for (int i = 0; i < req.inputs().size(); i++) {
            assertEquals(req.inputs().get(i).name(), r.inputs().get(i).name());
            assertTrue(req.inputs().get(i).tensor().contentEquals(r.inputs().get(i).tensor()),
                    req.inputs().get(i).name());
        }
    }

    @Test
    void repliesRoundTrip() throws Exception {
        TraceContext served = TraceContext.newTrace().child();
        InferenceResponse resp = new InferenceResponse("id", "m", "1", everyType(), "n1", "eu", 7, true, served);
        ModelReplica.Answer a = (ModelReplica.Answer) roundTrip(new ModelReplica.Answer(resp));
        assertEquals(served, a.response().trace());
        assertEquals(served.traceId(), a.response().traceId());
        InferenceResponse untraced = new InferenceResponse("id", "m", "1", everyType(), "n1", "eu", 7, true);
        assertNull(((ModelReplica.Answer) roundTrip(new ModelReplica.Answer(untraced))).response().trace());
        assertEquals(7, a.response().batchRows());
        assertTrue(a.response().islandMode());
        assertTrue(resp.output("b").contentEquals(a.response().output("b")));
        ModelReplica.Failure f = (ModelReplica.Failure) roundTrip(
                new ModelReplica.Failure(new InferenceError(ErrorKind.OVERLOADED, "queue full")));
        assertEquals(new InferenceError(ErrorKind.OVERLOADED, "queue full"), f.error());
        assertEquals(ModelReplica.Wake.INSTANCE, roundTrip(ModelReplica.Wake.INSTANCE));
        assertEquals(ModelReplica.Stop.INSTANCE, roundTrip(ModelReplica.Stop.INSTANCE));
    }

    @Test
    void catalogEntryRoundTrips() throws Exception {
        ModelSignature sig = ModelSignature.of(
                List.of(new TensorSpec("x", DType.FP32, List.of(TensorSpec.Dim.symbolic("batch"), TensorSpec.Dim.fixed(4)))),
                List.of(new TensorSpec("y", DType.FP32, List.of(TensorSpec.Dim.symbolic("batch"), TensorSpec.Dim.fixed(3)))));
        ModelManifest m = new ModelManifest("m", "1", "ab".repeat(32), 123, sig, 2, Set.of("eu"), 8, null,
                "n1", 42L, "alice", null, 0, null);
        ModelEntry e = ModelEntry.empty("m").withVersion(m);
        assertEquals(e, roundTrip(e));
    }

    @Test
    void ensembleManifestAndResponseRoundTrip() throws Exception {
        ModelSignature sig = ModelSignature.of(
                List.of(new TensorSpec("x", DType.FP32, List.of(TensorSpec.Dim.symbolic("batch"), TensorSpec.Dim.fixed(4)))),
                List.of(new TensorSpec("y", DType.INT64, List.of(TensorSpec.Dim.symbolic("batch")))));
        EnsembleSpec spec = new EnsembleSpec(List.of(new EnsembleSpec.Member("a", "1", 2.5),
                new EnsembleSpec.Member("b", null, 1)), EnsembleSpec.Combine.VOTE, EnsembleSpec.Missing.PARTIAL, 1);
        ModelManifest m = new ModelManifest("ens", "1", spec.contentHash(), 0, sig, 1, Set.of(), null, null, "n1", 44L,
                "carol", null, 0, null, spec);
        ModelEntry e = ModelEntry.empty("ens").withVersion(m);
        assertEquals(e, roundTrip(e));
        InferenceResponse r = new InferenceResponse("r1", "ens", "1",
                List.of(new NamedTensor("y", Tensor.ofLongs(new long[] {1}, 3))), "n1", "eu", 1, false, null,
                new EnsembleReport(List.of("a@1"), List.of("b: UNAVAILABLE no replica")));
        InferenceResponse back = (InferenceResponse) roundTrip(r);
        assertEquals(r.ensemble(), back.ensemble());
        assertEquals(3, back.output("y").longs()[0]);
    }

    private static GoldenVectors golden() {
        return new GoldenVectors(List.of(
                new GoldenVectors.Sample(Map.of("x", Tensor.ofFloats(new long[] {1, 4}, 0.5f, -1f, 2f, Float.NaN)),
                        Map.of("y", Tensor.ofFloats(new long[] {1, 3}, 1f, 2f, 3f),
                                "cls", Tensor.ofLongs(new long[] {1}, 2))),
                new GoldenVectors.Sample(Map.of("x", Tensor.ofFloats(new long[] {2, 4}, 1, 2, 3, 4, 5, 6, 7, 8),
                        "mask", Tensor.ofBooleans(new long[] {2}, true, false), "ids",
                        Tensor.ofLongs(new long[] {2, 2}, 0, 1, 1, 0)),
                        Map.of("y", Tensor.ofFloats(new long[] {2, 3}, 1, 2, 3, 4, 5, 6)))),
                1e-4, GoldenVectors.recordedBy("n1"));
    }

    private static ModelManifest manifestWithGolden() {
        ModelSignature sig = ModelSignature.of(
                List.of(new TensorSpec("x", DType.FP32, List.of(TensorSpec.Dim.symbolic("batch"), TensorSpec.Dim.fixed(4)))),
                List.of(new TensorSpec("y", DType.FP32, List.of(TensorSpec.Dim.symbolic("batch"), TensorSpec.Dim.fixed(3)))));
        return new ModelManifest("m", "2", "cd".repeat(32), 456, sig, 1, Set.of(), null, 5L, "n1", 43L, "bob",
                golden(), 0, null);
    }

    @Test
    void manifestWithGoldenVectorsRoundTrips() throws Exception {
        ModelManifest m = manifestWithGolden();
        ModelEntry e = ModelEntry.empty("m").withVersion(m);
        ModelEntry back = (ModelEntry) roundTrip(e);
        ModelManifest b = back.version("2").orElseThrow();
        assertEquals(m.sha256(), b.sha256());
        assertEquals(m.maxDelayMillis(), b.maxDelayMillis());
        assertEquals(m.signature(), b.signature());
        assertTrue(m.golden().contentEquals(b.golden()), "golden vectors survive the wire");
        assertEquals(1e-4, b.golden().tolerance());
        assertEquals("recorded by n1", b.golden().source());
    }

    @Test
    void catalogAndAttestationMapsReplicateThroughDistributedDataSerializers() throws Exception {
        // Distributed Data wraps our values in its own protobuf, which calls Kryo for each value
        SelfUniqueAddress self = DistributedData.get(TESTKIT.system()).selfUniqueAddress();
        LWWMap<String, ModelEntry> catalog = LWWMap.<String, ModelEntry>create()
                .put(self, "m", ModelEntry.empty("m").withVersion(manifestWithGolden()));
        Serializer s = SERIALIZATION.findSerializerFor(catalog);
        @SuppressWarnings("unchecked")
        LWWMap<String, ModelEntry> back = (LWWMap<String, ModelEntry>) SERIALIZATION.deserialize(s.toBinary(catalog),
                s.identifier(), Serializers.manifestFor(s, catalog)).get();
        assertTrue(golden().contentEquals(back.get("m").get().version("2").orElseThrow().golden()));

        Attestation a = new Attestation("m", "2", "cd".repeat(32), "n1", "pekko://meshinfer@127.0.0.1:25520", "eu",
                false, Double.POSITIVE_INFINITY, 1e-4, "output 'y' is FP32[1, 4], the golden vectors expect"
                + " FP32[1, 3]", 1_700_000_000_000L, "onnxruntime 1.23.2");
        assertEquals(a, roundTrip(a));
        LWWMap<String, Attestation> attestations = LWWMap.<String, Attestation>create().put(self, a.key(), a);
        Serializer s2 = SERIALIZATION.findSerializerFor(attestations);
        @SuppressWarnings("unchecked")
        LWWMap<String, Attestation> back2 = (LWWMap<String, Attestation>) SERIALIZATION.deserialize(
                s2.toBinary(attestations), s2.identifier(), Serializers.manifestFor(s2, attestations)).get();
        assertEquals(a, back2.get(a.key()).get());
    }

    @Test
    void corruptedGoldenVectorsAreRefusedOrDecodedButNeverCrash() throws Exception {
        KryoSerializer kryo = (KryoSerializer) SERIALIZATION.serializerFor(ModelReplica.Wake.class);
        byte[] valid = kryo.toBinary(ModelEntry.empty("m").withVersion(manifestWithGolden()));
        Random rnd = new Random(11);
        for (int i = 0; i < 5000; i++) {
            byte[] bytes = valid.clone();
            for (int flips = 1 + rnd.nextInt(4); flips > 0; flips--) {
                bytes[rnd.nextInt(bytes.length)] = (byte) rnd.nextInt(256);
            }
            try {
                kryo.fromBinary(bytes, "");
            } catch (NotSerializableException refused) {
                assertTrue(refused.getMessage().startsWith("refused a message"), refused.getMessage());
            }
        }
        byte[] truncated = java.util.Arrays.copyOf(valid, valid.length - 9);
        assertThrows(NotSerializableException.class, () -> kryo.fromBinary(truncated, ""));
    }

    @Test
    void unregisteredClassesAreRefused() throws Exception {
        KryoSerializer kryo = (KryoSerializer) SERIALIZATION.serializerFor(ModelReplica.Wake.class);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> kryo.toBinary(new java.util.concurrent.atomic.AtomicLong(3)));
        assertTrue(e.getMessage().contains("AtomicLong"), e.getMessage());
    }

    @Test
    void garbageOnTheWireIsRefusedNotDecoded() throws Exception {
        KryoSerializer kryo = (KryoSerializer) SERIALIZATION.serializerFor(ModelReplica.Wake.class);
        Random rnd = new Random(42);
        int refused = 0;
        for (int i = 0; i < 2000; i++) {
            byte[] bytes = new byte[1 + rnd.nextInt(64)];
            rnd.nextBytes(bytes);
            try {
                Object o = kryo.fromBinary(bytes, "");
                assertTrue(o == null || o.getClass().getName().startsWith("io.meshinfer")
                        || o.getClass().getName().startsWith("java.") || o.getClass().isArray()
                        || o.getClass().getName().startsWith("org.apache.pekko.actor.typed."),
                        "decoded into an unregistered " + o.getClass());
            } catch (NotSerializableException expected) {
                refused++;
            }
        }
        assertTrue(refused > 1000, "most random inputs are refused: " + refused);
    }

    @Test
    void corruptedMessagesAreRefusedOrDecodedButNeverCrash() throws Exception {
        KryoSerializer kryo = (KryoSerializer) SERIALIZATION.serializerFor(ModelReplica.Wake.class);
        TestProbe<ModelReplica.Reply> probe = TESTKIT.createTestProbe();
        byte[] valid = kryo.toBinary(new ModelReplica.Infer(new InferenceRequest("id", "m", null, everyType(),
                List.of(), 100, Set.of("eu"), null, null), probe.getRef()));
        Random rnd = new Random(7);
        for (int i = 0; i < 20000; i++) {
            byte[] bytes = valid.clone();
            for (int flips = 1 + rnd.nextInt(4); flips > 0; flips--) {
                bytes[rnd.nextInt(bytes.length)] = (byte) rnd.nextInt(256);
            }
            try {
                kryo.fromBinary(bytes, "");
            } catch (NotSerializableException refused) {
                assertTrue(refused.getMessage().startsWith("refused a message"), refused.getMessage());
            }
        }
    }

    /** One valid message of every kind a peer sends, as bytes on the wire. */
    private static List<byte[]> everyKindOfMessage(KryoSerializer kryo) {
        TestProbe<ModelReplica.Reply> probe = TESTKIT.createTestProbe();
        ModelSignature sig = ModelSignature.of(
                List.of(new TensorSpec("x", DType.FP32, List.of(TensorSpec.Dim.symbolic("batch"), TensorSpec.Dim.fixed(4)))),
                List.of(new TensorSpec("y", DType.FP32, List.of(TensorSpec.Dim.symbolic("batch"), TensorSpec.Dim.fixed(3)))));
        ModelManifest m = new ModelManifest("m", "1", "ab".repeat(32), 123, sig, 2, Set.of("eu", "us"), 8, 5L,
                "n1", 42L, "alice", null, 0, null);
        return List.of(
                kryo.toBinary(new ModelReplica.Infer(new InferenceRequest("id-1", "m", "2", everyType(), List.of("out"),
                        1500, Set.of("eu-west", "us-east"), "caller-7", null), probe.getRef())),
                kryo.toBinary(new ModelReplica.Answer(new InferenceResponse("id", "m", "1", everyType(), "n1", "eu", 7,
                        true))),
                kryo.toBinary(new ModelReplica.Failure(new InferenceError(ErrorKind.OVERLOADED, "queue full"))),
                kryo.toBinary(ModelEntry.empty("m").withVersion(m)),
                kryo.toBinary(m),
                kryo.toBinary(new io.meshinfer.shard.ReplicaLocation("m@1#0", "m", "1", 0, "n1",
                        "pekko://meshinfer@127.0.0.1:25520", "eu", "eu-a", true, 42L,
                        TESTKIT.<ModelReplica.Command>createTestProbe().getRef())));
    }

    /** Decodes {@code bytes}: a refusal or a value of a registered class, nothing else; returns whether refused. */
    private static boolean refusedOrDecoded(KryoSerializer kryo, byte[] bytes, String what) {
        try {
            Object o = kryo.fromBinary(bytes, "");
            String name = o.getClass().getName();
            assertTrue(name.startsWith("io.meshinfer") || name.startsWith("java.") || o.getClass().isArray()
                    || name.startsWith("org.apache.pekko.actor.typed."), what + " decoded into " + o.getClass());
            return false;
        } catch (NotSerializableException refused) {
            assertTrue(refused.getMessage().startsWith("refused a message"), refused.getMessage());
            return true;
        }
    }

    @Test
    void everyTruncationOfEveryKindOfMessageIsRefused() throws Exception {
        KryoSerializer kryo = (KryoSerializer) SERIALIZATION.serializerFor(ModelReplica.Wake.class);
        assertTimeoutPreemptively(java.time.Duration.ofSeconds(30), () -> {
            for (byte[] valid : everyKindOfMessage(kryo)) {
                int decoded = 0;
                for (int length = 0; length < valid.length; length++) {
                    if (!refusedOrDecoded(kryo, java.util.Arrays.copyOf(valid, length), "a prefix of " + length)) {
                        decoded++;
                    }
                }
                // a prefix may only decode when the message ends in bytes no field needs
                assertTrue(decoded <= 2, decoded + " prefixes of a " + valid.length + "-byte message decoded");
            }
        });
    }

    @Test
    void everySingleBitFlipOfEveryKindOfMessageIsRefusedOrDecodedWithinBoundedMemory() throws Exception {
        KryoSerializer kryo = (KryoSerializer) SERIALIZATION.serializerFor(ModelReplica.Wake.class);
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        assertTimeoutPreemptively(java.time.Duration.ofSeconds(30), () -> {
            long worst = 0;
            for (byte[] valid : everyKindOfMessage(kryo)) {
                for (int bit = 0; bit < valid.length * 8; bit++) {
                    byte[] bytes = valid.clone();
                    bytes[bit / 8] ^= (byte) (1 << (bit % 8));
                    long before = threads.getCurrentThreadAllocatedBytes();
                    refusedOrDecoded(kryo, bytes, "bit " + bit);
                    worst = Math.max(worst, threads.getCurrentThreadAllocatedBytes() - before - 8L * valid.length);
                }
            }
            // lengths are checked against the bytes left before anything is allocated for them
            assertTrue(worst < 1 << 20, "one decode allocated " + worst + " bytes more than 8x its message");
        });
    }

    @Test
    void randomSplicesOfValidMessagesNeverEscapeTheSerializer() throws Exception {
        KryoSerializer kryo = (KryoSerializer) SERIALIZATION.serializerFor(ModelReplica.Wake.class);
        List<byte[]> valid = everyKindOfMessage(kryo);
        Random rnd = new Random(11);
        assertTimeoutPreemptively(java.time.Duration.ofSeconds(30), () -> {
            for (int i = 0; i < 20_000; i++) {
                byte[] a = valid.get(rnd.nextInt(valid.size()));
                byte[] b = valid.get(rnd.nextInt(valid.size()));
                int cut = rnd.nextInt(a.length);
                int from = rnd.nextInt(b.length);
                byte[] spliced = new byte[cut + b.length - from];
                System.arraycopy(a, 0, spliced, 0, cut);
                System.arraycopy(b, from, spliced, cut, b.length - from);
                // varints claiming huge lengths: a run of 0xFF somewhere
                if (rnd.nextBoolean()) {
                    int at = rnd.nextInt(spliced.length);
                    for (int k = at; k < Math.min(spliced.length, at + 1 + rnd.nextInt(5)); k++) {
                        spliced[k] = (byte) 0xFF;
                    }
                }
                refusedOrDecoded(kryo, spliced, "splice " + i);
            }
        });
    }

    @Test
    void aTensorClaimingMoreDataThanTheMessageHoldsIsRefused() throws Exception {
        KryoSerializer kryo = (KryoSerializer) SERIALIZATION.serializerFor(ModelReplica.Wake.class);
        byte[] ok = kryo.toBinary(new NamedTensor("x", Tensor.ofFloats(new long[] {4}, 1, 2, 3, 4)));
        byte[] truncated = java.util.Arrays.copyOf(ok, ok.length - 5);
        assertThrows(NotSerializableException.class, () -> kryo.fromBinary(truncated, ""));
        NamedTensor back = (NamedTensor) kryo.fromBinary(ok, "");
        assertArrayEquals(new float[] {1, 2, 3, 4}, back.tensor().floats());
    }
}
