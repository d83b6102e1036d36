/**
 * The measuring instrument ({@code meshinfer bench}): load generation against an
 * in-process engine, a cluster or any Open Inference Protocol endpoint, raw ONNX Runtime
 * baselines measured in the same run, and reports. Entry class {@link io.meshinfer.bench.LoadGenerator}.
 */
package io.meshinfer.bench;
