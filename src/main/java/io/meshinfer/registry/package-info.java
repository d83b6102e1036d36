/**
 * What is deployed and where its bytes are: the replicated {@link io.meshinfer.registry.Catalog}
 * of model manifests and routing weights, its node-local view, the content-addressed
 * {@link io.meshinfer.registry.ArtifactStore} and its {@link io.meshinfer.registry.ArtifactGc},
 * and consistency attestation: golden vectors in the manifest, checked on every node by the
 * {@link io.meshinfer.registry.Attestor} and published by {@link io.meshinfer.registry.Attestations}.
 */
package io.meshinfer.registry;
