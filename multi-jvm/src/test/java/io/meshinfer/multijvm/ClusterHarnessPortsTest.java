package io.meshinfer.multijvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;

/** Where the harness picks node ports: never inside the kernel's ephemeral range when room exists outside it. */
class ClusterHarnessPortsTest {
    @Test
    void linuxDefaultRangePicksJustBelowIt() {
        assertArrayEquals(new int[] {20768, 32768}, ClusterHarness.portRange(32768, 60999));
    }

    @Test
    void aSandboxRangeStartingAt16000PicksBelowIt() {
        // The range the old fixed floor of 20000 fell inside, so a node's port could be a client's.
        assertArrayEquals(new int[] {4000, 16000}, ClusterHarness.portRange(16000, 65535));
    }

    @Test
    void aRangeStartingLowPicksAboveItWhenThereIsRoom() {
        assertArrayEquals(new int[] {50001, 65536}, ClusterHarness.portRange(1500, 50000));
    }

    @Test
    void noRoomEitherSideFallsBackToEveryUnprivilegedPort() {
        assertArrayEquals(new int[] {1024, 65536}, ClusterHarness.portRange(1024, 65535));
    }
}
