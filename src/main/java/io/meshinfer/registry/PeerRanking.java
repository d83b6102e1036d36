package io.meshinfer.registry;

import java.util.List;

/**
 * Which peers to ask first for an artifact: a lower rank is tried earlier; peers of equal
 * rank are tried in random order (so the nodes holding an artifact share the load of
 * serving it). Called once per fetch, off the request path; must not block.
 */
@FunctionalInterface
public interface PeerRanking {
    /** No preference: every peer in random order. */
    PeerRanking NONE = (sha256, peers) -> new int[peers.size()];

    /** The rank of each of {@code peers} (same order) for fetching {@code sha256}. */
    int[] rank(String sha256, List<String> peers);
}
