/**
 * What is deployed and where its bytes are: the replicated {@link io.meshinfer.registry.Catalog}
 * of model manifests and routing weights, its node-local view, the content-addressed
 * {@link io.meshinfer.registry.ArtifactStore} with its {@link io.meshinfer.registry.ArtifactGc},
 * peer-to-peer transfer of artifacts ({@link io.meshinfer.registry.ArtifactFetcher}) and their
 * periodic re-verification ({@link io.meshinfer.registry.ArtifactScrubber}), and consistency
 * attestation: golden vectors in the manifest, checked on every node by the
 * {@link io.meshinfer.registry.Attestor} and published by {@link io.meshinfer.registry.Attestations}.
 */
package io.meshinfer.registry;
