package io.meshinfer.jmh;

import io.meshinfer.api.InferenceRequest;
import io.meshinfer.serialization.KryoSerializer;
import io.meshinfer.shard.ModelReplica;
import io.meshinfer.tensor.NamedTensor;
import java.io.NotSerializableException;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cluster's serializer on the message that carries a request to a remote replica:
 * {@link ModelReplica.Infer} holding one FP32 input of the MLP's or the CNN's size and a
 * real typed reply reference (which Kryo writes as an actor path). The serializer is built
 * from meshinfer's configuration in a local actor system, as Pekko would build it.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 3, time = 2)
public class KryoBenchmark {
    @Param
    public InputShape shape;

    private ActorSystem system;
    private KryoSerializer serializer;
    private ModelReplica.Infer message;

    @Setup(Level.Trial)
    public void setUp() throws NotSerializableException {
        system = ActorSystem.create("jmh-kryo", Fixtures.localSystemConfig());
        serializer = new KryoSerializer((ExtendedActorSystem) system);
        InferenceRequest request = new InferenceRequest("bench-1", "bench", "1",
                List.of(new NamedTensor("x", shape.tensor())), List.of(), 10_000, Set.of(), null, null);
        message = new ModelReplica.Infer(request, Adapter.toTyped(system.deadLetters()));
        Object back = serializer.fromBinary(serializer.toBinary(message), "");
        if (!(back instanceof ModelReplica.Infer infer)
                || !infer.request().inputs().get(0).tensor().contentEquals(shape.tensor())) {
            throw new IllegalStateException("the Kryo round trip does not give the message back");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @Benchmark
    public byte[] serialize() {
        return serializer.toBinary(message);
    }

    @Benchmark
    public Object roundTrip() throws NotSerializableException {
        return serializer.fromBinary(serializer.toBinary(message), "");
    }
}
