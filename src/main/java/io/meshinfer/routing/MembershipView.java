package io.meshinfer.routing;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * This node's latest view of cluster membership and reachability, read lock-free on the
 * request path. Written by {@link MembershipWatcher}; listeners hear about every member
 * that became unreachable or left (so in-flight requests to it can be retried at once).
 */
public final class MembershipView {
    private volatile Map<String, MemberInfo> members = Map.of();
    private volatile String self = "";
    private volatile String selfStatus = "Joining";
    // decided once per membership change: every request asks
    private volatile boolean cutOff = true;
    private final List<Consumer<String>> lostListeners = new CopyOnWriteArrayList<>();
    private final java.util.concurrent.atomic.LongAdder downed = new java.util.concurrent.atomic.LongAdder();

    /** Members this node has seen downed (split brain resolver or operator decisions) in this membership. */
    public long membersDowned() {
        return downed.sum();
    }

    void countDowned() {
        downed.increment();
    }

    public Map<String, MemberInfo> members() {
        return members;
    }

    public Optional<MemberInfo> member(String address) {
        return Optional.ofNullable(members.get(address));
    }

    public String self() {
        return self;
    }

    public String selfStatus() {
        return selfStatus;
    }

    /** Whether {@code address} is a member requests may be sent to. */
    public boolean serving(String address) {
        MemberInfo m = members.get(address);
        return m != null && m.serving();
    }

    /**
     * Whether this node can reach at most half of the cluster (itself included), or is not
     * an Up member: then it cannot tell whether it is on the majority side and must act as
     * an island.
     */
    public boolean cutOff() {
        return cutOff;
    }

    private static boolean cutOff(String selfStatus, Map<String, MemberInfo> m) {
        if (!selfStatus.equals("Up") && !selfStatus.equals("WeaklyUp")) {
            return true;
        }
        long counted = m.values().stream().filter(x -> !x.status().equals("Removed") && !x.status().equals("Down")).count();
        long reachable = m.values().stream().filter(x -> x.reachable() && !x.status().equals("Removed")
                && !x.status().equals("Down")).count();
        return counted > 0 && reachable * 2 <= counted;
    }

    /** Members with their HTTP address, reachable ones first. */
    public List<MemberInfo> httpPeers() {
        return members.values().stream().filter(m -> !m.http().isEmpty() && !m.address().equals(self))
                .sorted((a, b) -> Boolean.compare(b.serving(), a.serving()))
                .collect(Collectors.toList());
    }

    public void onMemberLost(Consumer<String> listener) {
        lostListeners.add(listener);
    }

    void update(String selfAddress, String status, Map<String, MemberInfo> next, List<String> lost) {
        self = selfAddress;
        selfStatus = status;
        members = Map.copyOf(next);
        cutOff = cutOff(status, members);
        for (String address : lost) {
            for (Consumer<String> l : lostListeners) {
                l.accept(address);
            }
        }
    }
}
