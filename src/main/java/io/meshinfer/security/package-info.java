/**
 * Bearer tokens and the audit log, free of Pekko: ES256 keys and tokens
 * ({@link io.meshinfer.security.TokenKeys}, {@link io.meshinfer.security.TokenIssuer}),
 * their verification into a principal ({@link io.meshinfer.security.Authenticator}), and the
 * hash-chained, size-rotated audit log ({@link io.meshinfer.security.AuditLog}) with its
 * verifier ({@link io.meshinfer.security.AuditVerifier}). Depends only on {@code api}.
 */
package io.meshinfer.security;
