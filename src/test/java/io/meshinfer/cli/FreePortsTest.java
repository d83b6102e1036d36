package io.meshinfer.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Where node ports are picked: never inside the kernel's ephemeral range when room exists outside it. */
class FreePortsTest {
    @Test
    void linuxDefaultRangePicksJustBelowIt() {
        assertArrayEquals(new int[] {20768, 32768}, FreePorts.range(32768, 60999));
    }

    @Test
    void aSandboxRangeStartingAt16000PicksBelowIt() {
        // The range the old fixed floor of 20000 fell inside, so a node's port could be a client's.
        assertArrayEquals(new int[] {4000, 16000}, FreePorts.range(16000, 65535));
    }

    @Test
    void aRangeStartingLowPicksAboveItWhenThereIsRoom() {
        assertArrayEquals(new int[] {50001, 65536}, FreePorts.range(1500, 50000));
    }

    @Test
    void noRoomEitherSideFallsBackToEveryUnprivilegedPort() {
        assertArrayEquals(new int[] {1024, 65536}, FreePorts.range(1024, 65535));
    }

    @Test
    void aPickedPortIsFreeOutsideTheEphemeralRangeAndNotHandedOutTwice() throws Exception {
        java.util.Set<Integer> taken = new java.util.HashSet<>();
        int[] range = FreePorts.range();
        for (int i = 0; i < 20; i++) {
            int port = FreePorts.pick(taken);
            assertTrue(port >= range[0] && port < range[1], port + " outside " + java.util.Arrays.toString(range));
            try (java.net.ServerSocket s = new java.net.ServerSocket()) {
                s.bind(new java.net.InetSocketAddress("127.0.0.1", port)); // still free
            }
        }
        assertEquals(20, taken.size(), "twenty different ports");
    }
}
