package io.meshinfer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.node.NodeSettings;
import io.meshinfer.testkit.CliRun;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code meshinfer node --memory-budget SIZE}: the flag becomes the node's budget; a bad size is a usage error. */
class NodeMemoryBudgetFlagTest {

    private static NodeSettings settingsOf(String... args) {
        NodeCommand cmd = new NodeCommand();
        new CommandLine(cmd).parseArgs(args);
        return NodeSettings.fromConfig(cmd.buildConfig());
    }

    @Test
    void theFlagSetsTheBudgetAndWithoutItThereIsNoLimit() {
        assertEquals(OptionalLong.of(512L * 1024 * 1024), settingsOf("--memory-budget", "512MiB").memoryBudget());
        assertEquals(OptionalLong.of(3L * 1024 * 1024 * 1024), settingsOf("--memory-budget", "3GiB").memoryBudget());
        assertEquals(OptionalLong.empty(), settingsOf().memoryBudget());
        assertEquals(OptionalLong.empty(), settingsOf("--memory-budget", "off").memoryBudget());
    }

    @Test
    void aBudgetThatIsNoSizeIsAUsageError() {
        CliRun r = CliRun.of("node", "--memory-budget", "plenty", "--port", "0", "--http-port", "0");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--memory-budget") && r.err().contains("plenty"), r.err());
    }
}
