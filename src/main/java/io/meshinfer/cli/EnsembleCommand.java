package io.meshinfer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code meshinfer ensemble deploy|remove}: define or remove an ensemble version through a
 * node's gateway ({@code PUT} and {@code DELETE /v1/ensembles/{name}/versions/{v}}).
 */
@Command(name = "ensemble", mixinStandardHelpOptions = true,
        description = "Serve several deployed models under one name, their answers combined.",
        subcommands = {EnsembleCommand.Deploy.class, EnsembleCommand.Remove.class})
final class EnsembleCommand implements Callable<Integer> {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @Override
    public Integer call() {
        System.err.println("name an ensemble command: deploy or remove (meshinfer ensemble --help)");
        return 2;
    }

    /** The options every ensemble command takes. */
    static final class Target {
        @Mixin
        GatewayOptions gateway;

        @Option(names = "--name", required = true, description = "Ensemble name (served as /v2/models/<name>).")
        String name;

        @Option(names = "--version", required = true, description = "Ensemble version (versions are immutable).")
        String version;

        String path() {
            return "/v1/ensembles/" + name + "/versions/" + version;
        }
    }

    @Command(name = "deploy", mixinStandardHelpOptions = true,
            description = "Define an ensemble version over deployed models.")
    static final class Deploy implements Callable<Integer> {
        @Mixin
        Target target;

        @Option(names = "--member", required = true, paramLabel = "MODEL[@VERSION][:WEIGHT]",
                description = "A member model, repeated: e.g. a@1:2.0 (version 1, weight 2), b (the version its"
                        + " routing weights choose, weight 1).")
        List<String> members = new ArrayList<>();

        @Option(names = "--combine", required = true, description = "mean, weighted_mean, vote or concat.")
        String combine;

        @Option(names = "--missing", defaultValue = "fail", description = "fail (a missing member fails the"
                + " request) or partial (answer from the members that answered, naming the missing);"
                + " default ${DEFAULT-VALUE}.")
        String missing;

        @Option(names = "--min-members", description = "With --missing partial, the fewest members that must"
                + " answer (default 1).")
        Integer minMembers;

        @Override
        public Integer call() throws Exception {
            ObjectNode spec = MAPPER.createObjectNode();
            ArrayNode list = spec.putArray("members");
            try {
                for (String m : members) {
                    list.add(member(m));
                }
            } catch (IllegalArgumentException e) {
                System.err.println(e.getMessage());
                return 2;
            }
            spec.put("combine", combine).put("missing", missing);
            if (minMembers != null) {
                spec.put("min_members", minMembers);
            }
            GatewayClient.Reply r = target.gateway.client().putJson(target.path(),
                    MAPPER.writeValueAsBytes(spec), Duration.ofSeconds(60));
            if (!r.ok()) {
                System.err.println("ensemble deploy failed (HTTP " + r.status() + "): " + Cli.errorText(r.body()));
                return 1;
            }
            JsonNode n = MAPPER.readTree(r.body());
            System.out.printf("ensemble %s@%s: %s of %d members, missing %s%n", n.path("ensemble").asText(),
                    n.path("version").asText(), n.path("combine").asText(), n.path("members").size(),
                    n.path("missing").asText());
            return 0;
        }

        /** {@code model[@version][:weight]} as a member object. */
        static ObjectNode member(String text) {
            String rest = text;
            ObjectNode o = MAPPER.createObjectNode();
            int colon = rest.lastIndexOf(':');
            Double weight = null;
            if (colon >= 0) {
                try {
                    weight = Double.parseDouble(rest.substring(colon + 1));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("--member " + text + ": the weight after ':' must be a number");
                }
                rest = rest.substring(0, colon);
            }
            int at = rest.indexOf('@');
            o.put("model", at < 0 ? rest : rest.substring(0, at));
            if (at >= 0) {
                o.put("version", rest.substring(at + 1));
            }
            if (weight != null) {
                o.put("weight", weight);
            }
            return o;
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true, description = "Remove an ensemble version.")
    static final class Remove implements Callable<Integer> {
        @Mixin
        Target target;

        @Override
        public Integer call() throws Exception {
            GatewayClient.Reply r = target.gateway.client().delete(target.path());
            if (!r.ok()) {
                System.err.println("ensemble remove failed (HTTP " + r.status() + "): " + Cli.errorText(r.body()));
                return 1;
            }
            System.out.println("removed ensemble " + target.name + "@" + target.version);
            return 0;
        }
    }
}
