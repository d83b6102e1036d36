/**
 * Open Inference Protocol (KServe v2) codecs: request and response bodies to and from
 * {@code api} values, with precise errors for malformed bodies. Entry classes
 * {@link io.meshinfer.protocol.OipJson} and, for the binary tensor data extension,
 * {@link io.meshinfer.protocol.OipBinary}; depends only on {@code api} and {@code tensor}.
 */
package io.meshinfer.protocol;
