/**
 * The values every layer shares: {@link io.meshinfer.api.InferenceRequest},
 * {@link io.meshinfer.api.InferenceResponse}, the typed errors
 * ({@link io.meshinfer.api.InferenceException}), who a request acts for
 * ({@link io.meshinfer.api.Principal}), where it stands in a W3C trace
 * ({@link io.meshinfer.api.TraceContext}), the request id and trace in log lines
 * ({@link io.meshinfer.api.RequestMdc}), and continuations that stay on the thread completing a
 * stage ({@link io.meshinfer.api.Stages}). Depends only on {@code tensor} and SLF4J.
 */
package io.meshinfer.api;
