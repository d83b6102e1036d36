/**
 * What is deployed and where its bytes are: the replicated {@link io.meshinfer.registry.Catalog}
 * of model manifests and routing weights, its node-local view, and the content-addressed
 * {@link io.meshinfer.registry.ArtifactStore}.
 */
package io.meshinfer.registry;
