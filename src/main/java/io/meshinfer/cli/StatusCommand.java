package io.meshinfer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintStream;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code meshinfer status}: members, replicas, versions and traffic split as one node sees them. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = "Show cluster members, replicas, versions and traffic split.")
final class StatusCommand implements Callable<Integer> {
    @Mixin
    GatewayOptions gateway;

    @Option(names = "--json", description = "Print the raw JSON of GET /v1/cluster.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        GatewayClient.Reply r = gateway.client().get("/v1/cluster");
        if (!r.ok()) {
            System.err.println("status failed (HTTP " + r.status() + "): " + Cli.errorText(r.body()));
            return 1;
        }
        if (json) {
            System.out.println(Cli.pretty(r.body()));
        } else {
            print(new ObjectMapper().readTree(r.body()), System.out);
        }
        return 0;
    }

    /** A member's estimated replica memory against its budget ({@code -}: no budget). */
    private static String memory(JsonNode m) {
        String allocated = io.meshinfer.shard.MemoryBudget.human(m.path("memoryAllocated").asLong());
        JsonNode budget = m.path("memoryBudget");
        return allocated + " / " + (budget.isNumber() ? io.meshinfer.shard.MemoryBudget.human(budget.asLong()) : "-");
    }

    /** Prints the cluster status as small tables: members, replicas, models, attestation per version. */
    static void print(JsonNode s, PrintStream out) {
        out.println("cluster seen from " + s.path("selfName").asText() + " (" + s.path("self").asText() + ")");
        out.println();
        out.printf("%-22s %-12s %-12s %-9s %-9s %-23s %s%n", "MEMBER", "REGION", "ZONE", "STATUS", "REACHABLE",
                "MEMORY (EST./BUDGET)", "ADDRESS");
        for (JsonNode m : s.path("members")) {
            out.printf("%-22s %-12s %-12s %-9s %-9s %-23s %s%n", m.path("name").asText(), m.path("region").asText(),
                    m.path("zone").asText(), m.path("status").asText(), m.path("reachable").asBoolean() ? "yes" : "NO",
                    memory(m), m.path("address").asText());
        }
        out.println();
        out.printf("%-30s %-22s %-9s %9s %7s %s%n", "REPLICA", "NODE", "STATUS", "REQUESTS", "RUNS", "MEAN BATCH");
        for (JsonNode r : s.path("replicas")) {
            out.printf("%-30s %-22s %-9s %9s %7s %s%n",
                    r.path("model").asText() + "@" + r.path("version").asText() + "#" + r.path("replica").asText(),
                    r.path("node").asText(), r.path("status").asText(), r.path("requests").asText("-"),
                    r.path("runs").asText("-"), r.path("meanBatch").asText("-"));
        }
        out.println();
        out.printf("%-24s %-20s %s%n", "MODEL", "VERSIONS", "TRAFFIC SPLIT");
        for (JsonNode m : s.path("models")) {
            StringBuilder versions = new StringBuilder();
            m.path("versions").forEach(v -> versions.append(versions.length() == 0 ? "" : ",").append(v.asText()));
            StringBuilder split = new StringBuilder();
            m.path("weights").fields().forEachRemaining(e ->
                    split.append(split.length() == 0 ? "" : " ").append(e.getKey()).append('=')
                            .append(e.getValue().asInt()).append('%'));
            out.printf("%-24s %-20s %s%n", m.path("model").asText(), versions, split);
        }
        out.println();
        out.printf("%-30s %-9s %-9s %s%n", "VERSION", "GOLDEN", "ATTESTED", "FAILED ON");
        for (JsonNode m : s.path("models")) {
            m.path("attestations").fields().forEachRemaining(e -> {
                JsonNode a = e.getValue();
                StringBuilder failed = new StringBuilder();
                a.path("failed").forEach(n -> failed.append(failed.length() == 0 ? "" : ",").append(n.asText()));
                out.printf("%-30s %-9s %-9s %s%n", m.path("model").asText() + "@" + e.getKey(),
                        a.path("golden").asBoolean() ? "yes" : "no",
                        a.path("passed").asInt() + "/" + a.path("attested").asInt(),
                        failed.length() == 0 ? "-" : failed);
            });
        }
    }
}
