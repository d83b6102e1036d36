/**
 * The node-local ONNX Runtime: sessions shared by artifact hash
 * ({@link io.meshinfer.runtime.ModelRuntime}), model signatures and request validation,
 * and batch concatenation and splitting. No Pekko here.
 */
package io.meshinfer.runtime;
