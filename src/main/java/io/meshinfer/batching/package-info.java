/**
 * The dynamic batcher ({@link io.meshinfer.batching.Batcher}): a bounded Pekko Streams
 * pipeline that groups concurrent requests into ONNX Runtime runs and answers each one.
 */
package io.meshinfer.batching;
