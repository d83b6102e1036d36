/**
 * The values every layer shares: {@link io.meshinfer.api.InferenceRequest},
 * {@link io.meshinfer.api.InferenceResponse}, the typed errors
 * ({@link io.meshinfer.api.InferenceException}) and who a request acts for
 * ({@link io.meshinfer.api.Principal}). Depends only on {@code tensor}.
 */
package io.meshinfer.api;
