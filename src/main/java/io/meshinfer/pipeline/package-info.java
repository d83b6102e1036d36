/**
 * Serving a model split into pipeline stages: {@link io.meshinfer.pipeline.StageChain} runs a
 * request through the stage models one after another from the node it entered.
 */
package io.meshinfer.pipeline;
