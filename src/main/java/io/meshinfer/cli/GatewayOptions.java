package io.meshinfer.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The options naming a node's gateway and how to trust it, as a picocli mixin. */
final class GatewayOptions {
    @Option(names = "--gateway", required = true, description = "A node's HTTP address, e.g. http://127.0.0.1:8080.")
    String gateway;

    @Option(names = "--ca-cert", defaultValue = "${env:MESHINFER_CA_CERT}", description = "CA certificate (PEM)"
            + " to trust for an https:// gateway, e.g. the cluster's ca.crt (default: $MESHINFER_CA_CERT,"
            + " else the JVM's trusted CAs).")
    Path caCert;

    GatewayClient client() {
        return new GatewayClient(gateway, caCert);
    }
}
