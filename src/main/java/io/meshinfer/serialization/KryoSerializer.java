package io.meshinfer.serialization;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import com.esotericsoftware.kryo.util.Pool;
import com.typesafe.config.Config;
import io.meshinfer.tensor.DType;
import io.meshinfer.tensor.Tensor;
import java.io.NotSerializableException;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.SerializerWithStringManifest;

/**
 * The serializer of every meshinfer message that crosses the cluster: Kryo with
 * registration required, so bytes can only ever decode into the classes listed in
 * {@code meshinfer.serialization.kryo.classes} (plus the JDK collections and arrays they
 * use): no gadget-chain deserialization. Registration ids follow the order of that list,
 * so every node must run the same list; append new classes at its end.
 *
 * <p>Tensors are written as their type, shape and raw primitive array; typed actor
 * references through Pekko's {@link ActorRefResolver}. Kryo instances are not
 * thread-safe, so they come from a bounded pool. Messages larger than
 * {@code max-message-bytes} are refused.
 */
public final class KryoSerializer extends SerializerWithStringManifest {
    /** The serializer id, fixed: it is written into every message on the wire. */
    public static final int IDENTIFIER = 771_001;

    private final ExtendedActorSystem system;
    private final List<Class<?>> classes;
    private final int maxBytes;
    private final Pool<Kryo> pool;

    public KryoSerializer(ExtendedActorSystem system) {
        this.system = system;
        Config c = system.settings().config().getConfig("meshinfer.serialization.kryo");
        this.maxBytes = (int) Math.min(Integer.MAX_VALUE - 8, c.getBytes("max-message-bytes"));
        this.classes = new ArrayList<>();
        for (String name : c.getStringList("classes")) {
            try {
                classes.add(Class.forName(name, false, system.dynamicAccess().classLoader()));
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException("meshinfer.serialization.kryo.classes names " + name
                        + ", which is not on the classpath", e);
            }
        }
        int poolSize = c.getInt("pool-size");
        this.pool = new Pool<>(true, false, poolSize) {
            @Override
            protected Kryo create() {
                return newKryo();
            }
        };
    }

    private Kryo newKryo() {
        Kryo kryo = new Kryo();
        kryo.setRegistrationRequired(true);
        kryo.setReferences(false);
        kryo.setClassLoader(system.dynamicAccess().classLoader());
        kryo.setMaxDepth(64);
        BoundedSerializers.register(kryo);
        kryo.register(DType.class);
        kryo.register(Tensor.class, new TensorSerializer());
        ActorRefSerializer refs = new ActorRefSerializer(ActorRefResolver.get(Adapter.toTyped(system)));
        kryo.addDefaultSerializer(ActorRef.class, refs);
        kryo.register(Adapter.toTyped(system.deadLetters()).getClass(), refs);
        for (Class<?> c : classes) {
            kryo.register(c);
        }
        return kryo;
    }

    @Override
    public int identifier() {
        return IDENTIFIER;
    }

    @Override
    public String manifest(Object o) {
        return "";
    }

    @Override
    public byte[] toBinary(Object o) {
        Kryo kryo = pool.obtain();
        try {
            Output out = new Output(4096, maxBytes);
            kryo.writeClassAndObject(out, o);
            return out.toBytes();
        } catch (KryoException | IllegalArgumentException e) {
            throw new IllegalArgumentException("cannot serialize " + o.getClass().getName() + ": " + e.getMessage(), e);
        } finally {
            pool.free(kryo);
        }
    }

    @Override
    public Object fromBinary(byte[] bytes, String manifest) throws NotSerializableException {
        Kryo kryo = pool.obtain();
        try {
            Object o = kryo.readClassAndObject(new BoundedSerializers.BoundedInput(bytes));
            if (o == null) {
                throw new NotSerializableException("refused a message of " + bytes.length + " bytes: it decodes to null");
            }
            return o;
        } catch (RuntimeException e) {
            NotSerializableException nse = new NotSerializableException("refused a message of " + bytes.length
                    + " bytes: " + e.getMessage());
            nse.initCause(e);
            throw nse;
        } finally {
            pool.free(kryo);
        }
    }

    /** Type ordinal, shape, then the raw primitive array. */
    static final class TensorSerializer extends Serializer<Tensor> {
        TensorSerializer() {
            setImmutable(true);
        }

        @Override
        public void write(Kryo kryo, Output out, Tensor t) {
            out.writeVarInt(t.dtype().ordinal(), true);
            long[] shape = t.shape();
            out.writeVarInt(shape.length, true);
            for (long d : shape) {
                out.writeVarLong(d, true);
            }
            int n = t.size();
            out.writeVarInt(n, true);
            switch (t.dtype()) {
                case FP32 -> out.writeFloats(t.floats(), 0, n);
                case FP64 -> out.writeDoubles(t.doubles(), 0, n);
                case INT8, UINT8 -> out.writeBytes(t.bytes(), 0, n);
                case INT16 -> out.writeShorts(t.shorts(), 0, n);
                case INT32 -> out.writeInts(t.ints(), 0, n);
                case INT64 -> out.writeLongs(t.longs(), 0, n);
                case BOOL -> out.writeBooleans(t.booleans(), 0, n);
            }
        }

        @Override
        public Tensor read(Kryo kryo, Input in, Class<? extends Tensor> type) {
            int ordinal = in.readVarInt(true);
            DType[] types = DType.values();
            if (ordinal < 0 || ordinal >= types.length) {
                throw new KryoException("unknown tensor type " + ordinal);
            }
            DType dtype = types[ordinal];
            int rank = in.readVarInt(true);
            if (rank > 64) {
                throw new KryoException("tensor rank " + rank + " is not plausible");
            }
            long[] shape = new long[rank];
            for (int i = 0; i < rank; i++) {
                shape[i] = in.readVarLong(true);
            }
            int n = in.readVarInt(true);
            if (n != Tensor.elementCount(shape)) {
                throw new KryoException("tensor of shape " + java.util.Arrays.toString(shape) + " claims " + n
                        + " elements");
            }
            if ((long) n * dtype.byteSize() > in.limit() - in.position()) {
                throw new KryoException("tensor claims " + n + " elements, more than the message holds");
            }
            Object data = switch (dtype) {
                case FP32 -> in.readFloats(n);
                case FP64 -> in.readDoubles(n);
                case INT8, UINT8 -> in.readBytes(n);
                case INT16 -> in.readShorts(n);
                case INT32 -> in.readInts(n);
                case INT64 -> in.readLongs(n);
                case BOOL -> in.readBooleans(n);
            };
            return Tensor.of(dtype, shape, data);
        }
    }

    /** Typed actor references in Pekko's own string form. */
    static final class ActorRefSerializer extends Serializer<ActorRef<?>> {
        private static final int MAX_PATH = 1024;
        private static final java.util.regex.Pattern ACTOR_PATH =
                java.util.regex.Pattern.compile("pekko://[A-Za-z0-9_-]+(@[A-Za-z0-9.:\\[\\]_-]+)?/[\\x21-\\x7e]*");
        private final ActorRefResolver resolver;

        ActorRefSerializer(ActorRefResolver resolver) {
            this.resolver = resolver;
            setImmutable(true);
        }

        @Override
        public void write(Kryo kryo, Output out, ActorRef<?> ref) {
            out.writeString(resolver.toSerializationFormat(ref));
        }

        @Override
        public ActorRef<?> read(Kryo kryo, Input in, Class<? extends ActorRef<?>> type) {
            String path = in.readString();
            // Only plausible actor paths reach Pekko's resolver: its string hashing reads raw
            // string memory, and arbitrary bytes from the wire have crashed the JVM there.
            if (path == null || path.length() > MAX_PATH || !ACTOR_PATH.matcher(path).matches()) {
                throw new KryoException("not an actor path");
            }
            return resolver.resolveActorRef(path);
        }
    }
}
