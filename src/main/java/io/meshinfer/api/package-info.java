/**
 * The values every layer shares: {@link io.meshinfer.api.InferenceRequest},
 * {@link io.meshinfer.api.InferenceResponse} and the typed errors
 * ({@link io.meshinfer.api.InferenceException}). Depends only on {@code tensor}.
 */
package io.meshinfer.api;
