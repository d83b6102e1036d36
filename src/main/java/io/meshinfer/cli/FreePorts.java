package io.meshinfer.cli;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Ports for node processes this machine starts on 127.0.0.1 (the demo, {@code bench --target
 * node}, the multi-JVM test harness), picked outside the kernel's ephemeral range. A port
 * picked by binding port 0 comes from that range, and between its release and the node's bind
 * an outgoing connection may take it as its local port; so may a stopped node's port while
 * it is down. The range differs between kernels and sandboxes (32768-60999 on Linux by
 * default, 16000-65535 in some sandboxes), so it is read, not assumed.
 */
public final class FreePorts {
    private static final Path RANGE = Path.of("/proc/sys/net/ipv4/ip_local_port_range");

    private FreePorts() {
    }

    /**
     * Where ports are picked: up to 12,000 ports just below the ephemeral range, or the ports
     * above it when too few lie below, or (no room either side) any unprivileged port.
     *
     * @return {@code [low, high)}
     */
    public static int[] range(int ephemeralLow, int ephemeralHigh) {
        int belowLow = Math.max(1024, ephemeralLow - 12_000);
        if (ephemeralLow - belowLow >= 2000) {
            return new int[] {belowLow, ephemeralLow};
        }
        if (65_535 - ephemeralHigh >= 2000) {
            return new int[] {ephemeralHigh + 1, 65_536};
        }
        return new int[] {1024, 65_536};
    }

    /** {@link #range(int, int)} for this machine's ephemeral range (Linux's default when unreadable). */
    public static int[] range() {
        try {
            String[] range = ephemeralRange().split("-");
            return range(Integer.parseInt(range[0]), Integer.parseInt(range[1]));
        } catch (RuntimeException e) {
            return range(32768, 60999);
        }
    }

    /** The kernel's ephemeral port range as {@code low-high}, or why it could not be read. */
    public static String ephemeralRange() {
        try {
            return Files.readString(RANGE).trim().replaceAll("\\s+", "-");
        } catch (IOException e) {
            return "unreadable (" + e.getMessage() + ")";
        }
    }

    /**
     * Whether {@code port} on 127.0.0.1 can be bound right now (bound and released). With
     * {@code reuseAddress} on, as a node binds, closed connections in TIME_WAIT do not count.
     */
    public static boolean bindable(int port, boolean reuseAddress) {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(reuseAddress);
            s.bind(new InetSocketAddress("127.0.0.1", port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * A port of {@link #range()} free on 127.0.0.1 right now (bound and released) and not in
     * {@code taken}, to which it is added.
     *
     * @throws IllegalStateException if 200 tries find none
     */
    public static int pick(Set<Integer> taken) {
        int[] range = range();
        for (int attempt = 0; attempt < 200; attempt++) {
            int port = ThreadLocalRandom.current().nextInt(range[0], range[1]);
            if (!taken.contains(port) && bindable(port, false)) {
                taken.add(port);
                return port;
            }
        }
        throw new IllegalStateException("no free port found in [" + range[0] + ", " + range[1] + ")");
    }
}
