/**
 * What is deployed and where its bytes are: the replicated {@link io.meshinfer.registry.Catalog}
 * of model manifests and routing weights, its node-local view, the content-addressed
 * {@link io.meshinfer.registry.ArtifactStore}, peer-to-peer transfer of artifacts
 * ({@link io.meshinfer.registry.ArtifactFetcher}) and their periodic re-verification
 * ({@link io.meshinfer.registry.ArtifactScrubber}).
 */
package io.meshinfer.registry;
