/**
 * Ensembles: one model name served by fanning a request out to several member models and
 * combining their answers. {@link io.meshinfer.ensemble.EnsembleService} serves them on the node
 * a request enters; {@link io.meshinfer.ensemble.Combiner} and
 * {@link io.meshinfer.ensemble.EnsembleSignature} are the pure combination and deploy-time check.
 */
package io.meshinfer.ensemble;
