/**
 * JMH microbenchmarks of the request hot path (codecs, Kryo, batch assembly, batcher
 * overhead), run by {@code scripts/jmh} and never by the build; entry class
 * {@link io.meshinfer.jmh.BatcherBenchmark}, with one class per component beside it.
 */
package io.meshinfer.jmh;
