/**
 * HTTP: the Open Inference Protocol, the admin API and cluster status
 * ({@link io.meshinfer.gateway.HttpGateway}, pekko-http).
 */
package io.meshinfer.gateway;
