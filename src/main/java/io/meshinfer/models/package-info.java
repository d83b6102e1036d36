/**
 * ONNX models built in code: the builder ({@link io.meshinfer.models.OnnxModelBuilder}), the
 * embedded demo model ({@link io.meshinfer.models.DemoModel}) and the benchmark models
 * ({@link io.meshinfer.models.BenchModels}). Depends only on {@code tensor}.
 */
package io.meshinfer.models;
