package io.meshinfer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code meshinfer rollout start|status|pause|resume|promote|abort}: version rollouts
 * through a node's gateway ({@code /v1/models/{m}/rollout}).
 */
@Command(name = "rollout", mixinStandardHelpOptions = true,
        description = "Roll a model's traffic over to a new version (canary, blue-green, shadow) and steer it.",
        subcommands = {
            RolloutCommand.Start.class,
            RolloutCommand.Status.class,
            RolloutCommand.Pause.class,
            RolloutCommand.Resume.class,
            RolloutCommand.Promote.class,
            RolloutCommand.Abort.class
        })
final class RolloutCommand implements Callable<Integer> {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @Override
    public Integer call() {
        System.err.println("name a rollout command: start, status, pause, resume, promote or abort"
                + " (meshinfer rollout --help)");
        return 2;
    }

    /** The options every rollout command takes. */
    static final class Target {
        @Mixin
        GatewayOptions gateway;

        @Option(names = "--model", required = true, description = "Model name.")
        String model;

        @Option(names = "--json", description = "Print the raw JSON answer.")
        boolean json;

        String path() {
            return "/v1/models/" + model + "/rollout";
        }
    }

    @Command(name = "start", mixinStandardHelpOptions = true, description = "Start a rollout to a deployed version.")
    static final class Start implements Callable<Integer> {
        @Mixin
        Target target;

        @Option(names = "--to", required = true, description = "The version to roll out (deployed already).")
        String to;

        @Option(names = "--strategy", defaultValue = "canary",
                description = "canary, blue-green or shadow (default: ${DEFAULT-VALUE}).")
        String strategy;

        @Option(names = "--steps", split = ",",
                description = "Percent per step, e.g. 5,25,50,100 (default: the node's meshinfer.rollout.default-steps).")
        List<Integer> steps;

        @Option(names = "--step-seconds", description = "Dwell per step (default: the node's).")
        Double stepSeconds;

        @Option(names = "--max-error-rate", description = "Gate: most extra error rate over the old version.")
        Double maxErrorRate;

        @Option(names = "--max-p99-ratio", description = "Gate: most p99 latency as a multiple of the old version's.")
        Double maxP99Ratio;

        @Option(names = "--min-agreement", description = "Gate: least top-1 agreement on mirrored traffic.")
        Double minAgreement;

        @Option(names = "--max-abs-diff", description = "Gate: most absolute output difference on mirrored traffic.")
        Double maxAbsDiff;

        @Option(names = "--min-requests", description = "Requests a step must see before it may pass.")
        Integer minRequests;

        @Override
        public Integer call() throws Exception {
            ObjectNode spec = MAPPER.createObjectNode().put("to", to).put("strategy", strategy);
            if (steps != null) {
                steps.forEach(spec.putArray("steps")::add);
            }
            if (stepSeconds != null) {
                spec.put("stepSeconds", stepSeconds);
            }
            ObjectNode gates = spec.putObject("gates");
            putIf(gates, "maxErrorRate", maxErrorRate);
            putIf(gates, "maxP99Ratio", maxP99Ratio);
            putIf(gates, "minAgreement", minAgreement);
            putIf(gates, "maxAbsDiff", maxAbsDiff);
            if (minRequests != null) {
                gates.put("minRequests", minRequests);
            }
            GatewayClient.Reply r = target.gateway.client().postJson(target.path(),
                    MAPPER.writeValueAsBytes(spec), Duration.ofSeconds(30));
            return report(target, r, "start");
        }

        private static void putIf(ObjectNode n, String name, Double v) {
            if (v != null) {
                n.put(name, v);
            }
        }
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = "Show a model's latest rollout.")
    static final class Status implements Callable<Integer> {
        @Mixin
        Target target;

        @Override
        public Integer call() throws Exception {
            return report(target, target.gateway.client().get(target.path()), "status");
        }
    }

    /** Base of the operator commands: POST {@code /rollout/<action>}. */
    abstract static class Action implements Callable<Integer> {
        @Mixin
        Target target;

        abstract String action();

        @Override
        public Integer call() throws Exception {
            GatewayClient client = target.gateway.client();
            return report(target, client.postJson(target.path() + "/" + action(), new byte[0], Duration.ofSeconds(30)),
                    action());
        }
    }

    @Command(name = "pause", mixinStandardHelpOptions = true, description = "Hold the rollout at its step.")
    static final class Pause extends Action {
        @Override
        String action() {
            return "pause";
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true, description = "Continue a paused rollout.")
    static final class Resume extends Action {
        @Override
        String action() {
            return "resume";
        }
    }

    @Command(name = "promote", mixinStandardHelpOptions = true,
            description = "Give the new version all traffic now and complete the rollout.")
    static final class Promote extends Action {
        @Override
        String action() {
            return "promote";
        }
    }

    @Command(name = "abort", mixinStandardHelpOptions = true,
            description = "Give the old version all traffic back and end the rollout.")
    static final class Abort extends Action {
        @Override
        String action() {
            return "abort";
        }
    }

    private static int report(Target target, GatewayClient.Reply r, String what) throws Exception {
        if (!r.ok()) {
            System.err.println("rollout " + what + " failed (HTTP " + r.status() + "): " + Cli.errorText(r.body()));
            return 1;
        }
        if (target.json) {
            System.out.println(Cli.pretty(r.body()));
        } else {
            print(MAPPER.readTree(r.body()), System.out);
        }
        return 0;
    }

    /** Prints a rollout status document for people. */
    static void print(JsonNode s, PrintStream out) {
        out.printf("%s: %s rollout %s -> %s is %s, step %d of %d (%d%%)%n", s.path("model").asText(),
                s.path("strategy").asText(), s.path("from").asText(), s.path("to").asText(), s.path("state").asText(),
                s.path("step").asInt(), s.path("steps").size(), s.path("percent").asInt());
        out.println("weights: " + s.path("weights") + " (epoch " + s.path("epoch").asLong() + ")");
        out.println("reason:  " + s.path("reason").asText());
        out.println();
        for (JsonNode e : s.path("history")) {
            out.printf("  %s  %s  %s%n", e.path("at").asText(), e.path("event").asText(), e.path("weights"));
        }
    }
}
