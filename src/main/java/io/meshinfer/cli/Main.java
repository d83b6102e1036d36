package io.meshinfer.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code meshinfer} command line: one sub-command per job. */
@Command(name = "meshinfer",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Decentralized ONNX inference on an Apache Pekko cluster.",
        subcommands = {
            NodeCommand.class,
            DeployCommand.class,
            InferCommand.class,
            StatusCommand.class,
            RolloutCommand.class,
            EnsembleCommand.class,
            TokenCommand.class,
            AuditCommand.class,
            DemoCommand.class,
            BenchCommand.class,
            PartitionCommand.class,
            KubernetesTopologyCommand.class,
            CommandLine.HelpCommand.class
        })
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code (0 success, 1 failure, 2 usage). */
    public static int run(String... args) {
        return new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true).execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** The version from the jar manifest, or "dev" when run from classes. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"meshinfer " + (v == null ? "dev" : v)};
        }
    }
}
