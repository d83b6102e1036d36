/**
 * Splitting one ONNX model into pipeline stages: cut points chosen to balance the estimated
 * compute per stage while keeping the tensors that cross each cut small (or given by tensor
 * name), every stage a self-contained ONNX model, the chain checked against the whole model
 * before a split is accepted. Entry class {@link io.meshinfer.partition.Partitioner}. No Pekko here.
 */
package io.meshinfer.partition;
