/**
 * JMH microbenchmarks of the request hot path: OIP codecs ({@link io.meshinfer.jmh.CodecBenchmark}),
 * Kryo ({@link io.meshinfer.jmh.KryoBenchmark}), batch concat/split
 * ({@link io.meshinfer.jmh.BatchAssemblerBenchmark}) and batcher overhead
 * ({@link io.meshinfer.jmh.BatcherBenchmark}). Run with {@code scripts/jmh}; never part of the build's tests.
 */
package io.meshinfer.jmh;
