package io.meshinfer.cli;

import io.meshinfer.security.AuditLog;
import io.meshinfer.security.AuditVerifier;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code meshinfer audit verify FILE...}: checks the hash chain of a node's audit files. */
@Command(name = "audit", mixinStandardHelpOptions = true,
        description = "Check audit logs written by nodes started with --audit-dir.",
        subcommands = {AuditCommand.Verify.class})
final class AuditCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("name an audit command: verify (meshinfer audit --help)");
        return 2;
    }

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = {"Check audit files, in the order given, as one hash chain; a directory stands for its"
                    + " audit-NNNNNN.jsonl files in order.",
                    "Exit 0: intact. Exit 1: tampered (the first altered, deleted, inserted, reordered or truncated"
                            + " record is named). Exit 2: a file cannot be read."})
    static final class Verify implements Callable<Integer> {
        @Parameters(arity = "1..*", paramLabel = "FILE", description = "Audit files (or directories), oldest first.")
        List<Path> paths;

        @Override
        public Integer call() {
            List<Path> files = new ArrayList<>();
            AuditVerifier.Result result;
            try {
                for (Path p : paths) {
                    if (Files.isDirectory(p)) {
                        files.addAll(AuditLog.files(p));
                    } else {
                        files.add(p);
                    }
                }
                if (files.isEmpty()) {
                    System.err.println("audit verify: no audit files in " + paths);
                    return 2;
                }
                result = AuditVerifier.verify(files);
            } catch (IOException e) {
                System.err.println("audit verify: cannot read " + e.getMessage());
                return 2;
            }
            result.notes().forEach(n -> System.out.println("note: " + n));
            if (!result.intact()) {
                System.out.println("TAMPERED: " + result.problem());
                return 1;
            }
            System.out.println("intact: " + result.records() + " records (seq " + result.firstSeq() + ".."
                    + result.lastSeq() + ") in " + files.size() + (files.size() == 1 ? " file" : " files")
                    + "; last record hash " + result.lastHash());
            return 0;
        }
    }
}
