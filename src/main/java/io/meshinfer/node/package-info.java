/**
 * Process bootstrap: {@link io.meshinfer.node.MeshNode} wires one actor system (catalog,
 * replicas, router, gateway) onto the process's {@link io.meshinfer.node.NodeResources}.
 */
package io.meshinfer.node;
