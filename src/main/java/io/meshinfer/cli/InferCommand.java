package io.meshinfer.cli;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code meshinfer infer}: sends one Open Inference Protocol request and prints the answer. */
@Command(name = "infer",
        description = "Send one Open Inference Protocol (KServe v2) JSON request and print the response.")
final class InferCommand implements Callable<Integer> {
    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;

    @Mixin
    GatewayOptions gateway;

    @Option(names = "--model", required = true, description = "Model name.")
    String model;

    @Option(names = "--version", description = "Pin a version (default: the routing table decides).")
    String version;

    @Option(names = "--input", required = true,
            description = "JSON request body: {\"inputs\":[{\"name\",\"shape\",\"datatype\",\"data\"}]}.")
    Path input;

    @Option(names = "--traceparent", description = "W3C trace context to continue (00-<trace id>-<parent id>-<flags>);"
            + " without it the node starts a trace. The answer's traceparent is printed on stderr.")
    String traceparent;

    @Override
    public Integer call() throws Exception {
        byte[] body = Files.readAllBytes(input);
        String path = "/v2/models/" + URLEncoder.encode(model, StandardCharsets.UTF_8)
                + (version == null ? "" : "/versions/" + URLEncoder.encode(version, StandardCharsets.UTF_8)) + "/infer";
        GatewayClient.Reply r = gateway.client().postJson(path, body, Duration.ofMinutes(6),
                traceparent);
        if (r.traceparent() != null) {
            System.err.println("traceparent: " + r.traceparent());
        }
        if (!r.ok()) {
            System.err.println("inference failed (HTTP " + r.status() + "): " + Cli.errorText(r.body()));
            return 1;
        }
        System.out.println(Cli.pretty(r.body()));
        return 0;
    }
}
