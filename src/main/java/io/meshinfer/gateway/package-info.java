/**
 * HTTP: the Open Inference Protocol, the admin API, cluster status and the dashboard
 * ({@link io.meshinfer.gateway.HttpGateway}, pekko-http).
 */
package io.meshinfer.gateway;
