package io.meshinfer.serialization;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Kryo serializers for the containers meshinfer messages use (primitive arrays and the
 * JDK's immutable lists, sets and maps) that check every length read from the wire
 * against the bytes left in the message before allocating anything. Kryo's own
 * serializers trust the length, so a few bytes of garbage could ask for gigabytes.
 */
final class BoundedSerializers {
    private BoundedSerializers() {
    }

    /** Registers every bounded serializer with {@code kryo}, in a fixed order. */
    static void register(Kryo kryo) {
        kryo.register(long[].class, new PrimitiveArray<>(8, Input::readLongs, (o, a) -> o.writeLongs(a, 0, a.length),
                a -> a.length));
        kryo.register(int[].class, new PrimitiveArray<>(4, Input::readInts, (o, a) -> o.writeInts(a, 0, a.length),
                a -> a.length));
        kryo.register(float[].class, new PrimitiveArray<>(4, Input::readFloats,
                (o, a) -> o.writeFloats(a, 0, a.length), a -> a.length));
        kryo.register(double[].class, new PrimitiveArray<>(8, Input::readDoubles,
                (o, a) -> o.writeDoubles(a, 0, a.length), a -> a.length));
        kryo.register(short[].class, new PrimitiveArray<>(2, Input::readShorts,
                (o, a) -> o.writeShorts(a, 0, a.length), a -> a.length));
        kryo.register(byte[].class, new PrimitiveArray<>(1, Input::readBytes, (o, a) -> o.writeBytes(a, 0, a.length),
                a -> a.length));
        kryo.register(boolean[].class, new PrimitiveArray<>(1, Input::readBooleans,
                (o, a) -> o.writeBooleans(a, 0, a.length), a -> a.length));
        ImmutableList list = new ImmutableList();
        kryo.register(List.of().getClass(), list);
        kryo.register(List.of(1).getClass(), list);
        kryo.register(List.of(1, 2, 3).getClass(), list);
        ImmutableSet set = new ImmutableSet();
        kryo.register(Set.of().getClass(), set);
        kryo.register(Set.of(1).getClass(), set);
        kryo.register(Set.of(1, 2, 3).getClass(), set);
        ImmutableMap map = new ImmutableMap();
        kryo.register(Map.of().getClass(), map);
        kryo.register(Map.of(1, 1).getClass(), map);
        kryo.register(Map.of(1, 1, 2, 2).getClass(), map);
    }

    /** Fails unless {@code count} elements of at least {@code minBytes} each fit in what is left. */
    static int checkLength(Input in, int count, int minBytes) {
        if (count < 0 || (long) count * minBytes > in.limit() - in.position()) {
            throw new KryoException("a length of " + count + " does not fit in the " + (in.limit() - in.position())
                    + " bytes left in the message");
        }
        return count;
    }

    /** Reads the array of {@code n} elements. */
    interface ArrayReader<A> {
        A read(Input in, int n);
    }

    /** Writes a whole array. */
    interface ArrayWriter<A> {
        void write(Output out, A array);
    }

    static final class PrimitiveArray<A> extends Serializer<A> {
        private final int elementBytes;
        private final ArrayReader<A> reader;
        private final ArrayWriter<A> writer;
        private final Function<A, Integer> length;

        PrimitiveArray(int elementBytes, ArrayReader<A> reader, ArrayWriter<A> writer, Function<A, Integer> length) {
            this.elementBytes = elementBytes;
            this.reader = reader;
            this.writer = writer;
            this.length = length;
        }

        @Override
        public void write(Kryo kryo, Output out, A array) {
            out.writeVarInt(length.apply(array), true);
            writer.write(out, array);
        }

        @Override
        public A read(Kryo kryo, Input in, Class<? extends A> type) {
            int n = checkLength(in, in.readVarInt(true), elementBytes);
            return reader.read(in, n);
        }
    }

    private static void writeElements(Kryo kryo, Output out, Collection<?> c) {
        out.writeVarInt(c.size(), true);
        for (Object o : c) {
            kryo.writeClassAndObject(out, o);
        }
    }

    private static Object[] readElements(Kryo kryo, Input in) {
        int n = checkLength(in, in.readVarInt(true), 1);
        Object[] a = new Object[n];
        for (int i = 0; i < n; i++) {
            a[i] = kryo.readClassAndObject(in);
        }
        return a;
    }

    static final class ImmutableList extends Serializer<List<?>> {
        ImmutableList() {
            setImmutable(true);
        }

        @Override
        public void write(Kryo kryo, Output out, List<?> list) {
            writeElements(kryo, out, list);
        }

        @Override
        public List<?> read(Kryo kryo, Input in, Class<? extends List<?>> type) {
            return List.of(readElements(kryo, in));
        }
    }

    static final class ImmutableSet extends Serializer<Set<?>> {
        ImmutableSet() {
            setImmutable(true);
        }

        @Override
        public void write(Kryo kryo, Output out, Set<?> set) {
            writeElements(kryo, out, set);
        }

        @Override
        public Set<?> read(Kryo kryo, Input in, Class<? extends Set<?>> type) {
            return Set.of(readElements(kryo, in));
        }
    }

    static final class ImmutableMap extends Serializer<Map<?, ?>> {
        ImmutableMap() {
            setImmutable(true);
        }

        @Override
        public void write(Kryo kryo, Output out, Map<?, ?> map) {
            out.writeVarInt(map.size(), true);
            for (Map.Entry<?, ?> e : map.entrySet()) {
                kryo.writeClassAndObject(out, e.getKey());
                kryo.writeClassAndObject(out, e.getValue());
            }
        }

        @Override
        @SuppressWarnings("unchecked")
        public Map<?, ?> read(Kryo kryo, Input in, Class<? extends Map<?, ?>> type) {
            int n = checkLength(in, in.readVarInt(true), 2);
            Map.Entry<Object, Object>[] entries = new Map.Entry[n];
            for (int i = 0; i < n; i++) {
                entries[i] = Map.entry(kryo.readClassAndObject(in), kryo.readClassAndObject(in));
            }
            return Map.ofEntries(entries);
        }
    }

    /**
     * An {@link Input} whose strings cannot claim more characters than the bytes left (a
     * UTF-8 character takes at least one byte).
     */
    static final class BoundedInput extends Input {
        BoundedInput(byte[] bytes) {
            super(bytes);
        }

        @Override
        public String readString() {
            if (position < limit && readVarIntFlag()) {
                int start = position;
                int chars = readVarIntFlag(true);
                checkLength(this, Math.max(0, chars - 1), 1);
                setPosition(start);
            }
            return super.readString();
        }
    }
}
