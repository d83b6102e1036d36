/**
 * Transport security: mutual TLS between nodes (Pekko Artery over TLS with PEM keys that
 * rotate without a restart), HTTPS for the gateway, the mutual-TLS artifact port that
 * serves model files to cluster members only, and the trust that peers and the CLI place in
 * the cluster's CA. Entry class: {@link io.meshinfer.security.tls.NodeTls}.
 */
package io.meshinfer.security.tls;
