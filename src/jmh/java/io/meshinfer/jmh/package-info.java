/**
 * JMH microbenchmarks of the request hot path (codecs, Kryo, batch assembly, batcher
 * overhead, one batched run against raw ONNX Runtime), run by {@code scripts/jmh} and never
 * by the build; entry class {@link io.meshinfer.jmh.BatcherBenchmark}, with one class per
 * component beside it.
 */
package io.meshinfer.jmh;
