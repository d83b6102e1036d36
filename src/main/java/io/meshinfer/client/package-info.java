/** The public Java API for in-cluster services: {@link io.meshinfer.client.InferenceClient}. */
package io.meshinfer.client;
