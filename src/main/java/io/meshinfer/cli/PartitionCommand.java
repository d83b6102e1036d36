package io.meshinfer.cli;

import com.typesafe.config.ConfigFactory;
import io.meshinfer.partition.Partition;
import io.meshinfer.partition.PartitionException;
import io.meshinfer.partition.Partitioner;
import io.meshinfer.runtime.ModelRuntime;
import io.meshinfer.runtime.RuntimeSettings;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code meshinfer partition}: splits an ONNX model into pipeline stages. */
@Command(name = "partition", mixinStandardHelpOptions = true,
        description = {"Split an ONNX model into K pipeline stages, each a self-contained ONNX model, and check the"
                + " chain of stages against the whole model on seeded random inputs before writing anything.",
                "Writes DIR/stage-0.onnx ... stage-(K-1).onnx and DIR/stages.json (inputs, outputs, sha256 and"
                        + " estimated cost of each stage, the tensors crossing each cut).",
                "Cut points balance the estimated FLOPs per stage (within --balance-tolerance of the best possible"
                        + " balance), then send the fewest bytes across the cuts; or give them with --cut.",
                "The bench models are files too: meshinfer bench export --model mlp|cnn|transformer --out F.onnx.",
                "Exit 0: written. Exit 1: the chain of stages does not reproduce the model (nothing written)."
                        + " Exit 2: bad arguments or an unreadable or invalid model."})
final class PartitionCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "F.onnx", description = "The ONNX model file to split.")
    Path model;

    @Option(names = "--stages", paramLabel = "K", description = "Number of stages (default: one more than the --cut"
            + " names, else required).")
    Integer stages;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Directory to write the stages into.")
    Path out;

    @Option(names = "--cut", split = ",", paramLabel = "TENSOR",
            description = "Cut right after the node producing each named tensor (comma-separated).")
    List<String> cuts = new ArrayList<>();

    @Option(names = "--check-samples", paramLabel = "N", defaultValue = "2",
            description = "Seeded random samples for the chain check, each at batch sizes 1 and 3 (default"
                    + " ${DEFAULT-VALUE}).")
    int checkSamples;

    @Option(names = "--balance-tolerance", paramLabel = "X", defaultValue = "0.1",
            description = "How far above the best achievable maximum stage cost a split may go to send fewer bytes"
                    + " across its cuts (default ${DEFAULT-VALUE}, i.e. 10%%).")
    double balanceTolerance;

    @Option(names = "--dim", paramLabel = "NAME=SIZE", split = ",",
            description = "Size of a symbolic input dimension other than the leading (batch) one for the generated"
                    + " inputs (default 8).")
    Map<String, Long> dims = new LinkedHashMap<>();

    @Override
    public Integer call() {
        if (stages == null && cuts.isEmpty()) {
            System.err.println("partition: give --stages K or --cut names (meshinfer partition --help)");
            return 2;
        }
        if (System.getProperty("MESHINFER_LOG_LEVEL") == null) {
            System.setProperty("MESHINFER_LOG_LEVEL", "WARN");
        }
        Partitioner.Options options = new Partitioner.Options(stages == null ? 0 : stages, cuts, checkSamples,
                balanceTolerance, dims, Partitioner.Options.DEFAULT_SEED);
        Partition p;
        try (ModelRuntime runtime = new ModelRuntime(RuntimeSettings.fromConfig(ConfigFactory.load()))) {
            p = new Partitioner(runtime).partition(model, options);
        } catch (PartitionException.ChainMismatch e) {
            System.err.println("partition refused: " + e.getMessage());
            return 1;
        } catch (PartitionException e) {
            System.err.println("partition: " + e.getMessage());
            return 2;
        }
        try {
            p.write(out);
        } catch (IOException e) {
            System.err.println("partition: cannot write " + out + ": " + e.getMessage());
            return 1;
        }
        print(p);
        return 0;
    }

    private void print(Partition p) {
        System.out.printf(Locale.ROOT, "%s: %d nodes, sha256 %s, split into %d stage%s (%s cuts)%n", model,
                p.sourceNodes(), p.sourceSha256(), p.stages().size(), p.stages().size() == 1 ? "" : "s", p.selection());
        System.out.printf(Locale.ROOT, "%-5s %6s %13s %14s  %s%n", "stage", "nodes", "params bytes", "MFLOP/sample",
                "crossing to next stage (bytes/sample)");
        for (Partition.Stage s : p.stages()) {
            String crossing;
            if (s.index() == p.stages().size() - 1) {
                crossing = "- (model outputs: " + names(s.outputs()) + ")";
            } else {
                Partition.Cut c = p.cuts().get(s.index());
                crossing = c.tensors().stream().map(t -> t.name() + " " + t.datatype() + t.shape() + " "
                        + t.bytesPerSample()).collect(Collectors.joining(", ")) + "; total " + c.bytesPerSample();
            }
            System.out.printf(Locale.ROOT, "%-5d %6d %13d %14.3f  %s%n", s.index(), s.nodes(), s.parameterBytes(),
                    s.flopsPerSample() / 1e6, crossing);
        }
        Partition.Check c = p.check();
        System.out.printf(Locale.ROOT, "stage cost max/min: %.2f%n", p.costRatio());
        System.out.printf(Locale.ROOT, "chain check: %d runs (%d samples x batch sizes %s) equal to the whole model;"
                        + " max abs diff %.3g, max rel diff %.3g (tolerance %.0e)%n", c.runs(), c.samples(),
                c.batchSizes(), c.maxAbsDiff(), c.maxRelDiff(), c.tolerance());
        System.out.println("wrote " + p.stages().size() + " stage file" + (p.stages().size() == 1 ? "" : "s") + " and "
                + Partition.MANIFEST + " to " + out);
    }

    private static String names(List<Partition.StageTensor> tensors) {
        return tensors.stream().map(Partition.StageTensor::name).collect(Collectors.joining(", "));
    }
}
