/**
 * Open Inference Protocol (KServe v2) codecs: request and response bodies to and from
 * {@code api} values, with precise errors for malformed bodies. Entry class
 * {@link io.meshinfer.protocol.OipJson}; depends only on {@code api} and {@code tensor}.
 */
package io.meshinfer.protocol;
