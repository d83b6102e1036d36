package io.meshinfer.node;

import io.meshinfer.registry.CatalogView;
import io.meshinfer.registry.ModelManifest;
import io.meshinfer.registry.PeerRanking;
import io.meshinfer.routing.MemberInfo;
import io.meshinfer.routing.MembershipView;
import io.meshinfer.shard.ReplicaLocation;
import io.meshinfer.shard.ReplicaLocationView;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Which peers to ask first for an artifact, from what this node knows now: rank 0 for a
 * reachable member known to hold it (it hosts a ready replica of a version with that
 * sha256, per the replica locations, or the version was deployed through it, per the
 * catalog), rank 1 for any other reachable member, rank 2 for the rest.
 */
final class ArtifactPeers implements PeerRanking {
    private final CatalogView catalog;
    private final Supplier<ClusterIncarnation> current;

    ArtifactPeers(CatalogView catalog, Supplier<ClusterIncarnation> current) {
        this.catalog = catalog;
        this.current = current;
    }

    @Override
    public int[] rank(String sha256, List<String> peers) {
        int[] ranks = new int[peers.size()];
        ClusterIncarnation inc = current.get();
        if (inc == null) {
            return ranks;
        }
        Set<String> holders = holderUrls(sha256, catalog, inc.locations(), inc.members());
        Set<String> reachable = new HashSet<>();
        for (MemberInfo m : inc.members().members().values()) {
            if (m.serving() && !m.http().isEmpty()) {
                reachable.add(ClusterIncarnation.peerUrl(m));
            }
        }
        for (int i = 0; i < ranks.length; i++) {
            String p = peers.get(i);
            ranks[i] = holders.contains(p) ? 0 : reachable.contains(p) ? 1 : 2;
        }
        return ranks;
    }

    /** HTTP base URLs of the reachable members known to hold {@code sha256}. */
    static Set<String> holderUrls(String sha256, CatalogView catalog, ReplicaLocationView locations,
                                  MembershipView members) {
        Set<String> keys = new HashSet<>();
        Set<String> names = new HashSet<>();
        for (ModelManifest m : catalog.manifests()) {
            if (m.sha256().equals(sha256)) {
                keys.add(m.key());
                names.add(m.originNode());
            }
        }
        Set<String> addresses = new HashSet<>();
        for (ReplicaLocation l : locations.all().values()) {
            if (l.ready() && keys.contains(l.model() + "@" + l.version())) {
                addresses.add(l.address());
            }
        }
        Set<String> urls = new HashSet<>();
        for (MemberInfo m : members.members().values()) {
            if (m.serving() && !m.http().isEmpty() && (addresses.contains(m.address()) || names.contains(m.name()))) {
                urls.add(ClusterIncarnation.peerUrl(m));
            }
        }
        return urls;
    }
}
