package io.meshinfer.registry;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * What an ensemble version is made of: its member models (each pinned to a version, or
 * following the member's routing weights when {@code version} is null, with a weight), how
 * their outputs are combined, and what happens when a member does not answer. Stored in
 * the {@link ModelManifest} of the ensemble version, so every node can serve it; an
 * ensemble has no artifact and no replicas of its own.
 *
 * @param minMembers the fewest members that must answer under {@link Missing#PARTIAL}
 *     (under {@link Missing#FAIL} every member must)
 */
public record EnsembleSpec(List<Member> members, Combine combine, Missing missing, int minMembers) {

    /** One member: a model, its version (null: the member's routing weights choose), its weight. */
    public record Member(String model, String version, double weight) {
        public Member {
            ModelManifest.requireName("member model", model);
            if (version != null) {
                ModelManifest.requireName("member version", version);
            }
            if (!(weight > 0) || Double.isInfinite(weight)) {
                throw new IllegalArgumentException("the weight of member '" + model + "' must be positive and finite,"
                        + " not " + weight);
            }
        }

        /** {@code model@version}, or {@code model} when the routing weights choose the version. */
        public String label() {
            return version == null ? model : model + "@" + version;
        }
    }

    /** How the members' outputs become the ensemble's. */
    public enum Combine {
        MEAN, WEIGHTED_MEAN, VOTE, CONCAT;

        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static Combine parse(String s) {
            return byWireName(values(), s, "combine must be one of mean, weighted_mean, vote, concat");
        }
    }

    /** What a member that does not answer (error, residency, deadline) does to the request. */
    public enum Missing {
        FAIL, PARTIAL;

        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static Missing parse(String s) {
            return byWireName(values(), s, "missing must be fail or partial");
        }
    }

    /** The constant whose lower-case name is {@code s}; {@code expected} and {@code s} make the error. */
    private static <E extends Enum<E>> E byWireName(E[] values, String s, String expected) {
        for (E e : values) {
            if (e.name().toLowerCase(Locale.ROOT).equals(s)) {
                return e;
            }
        }
        throw new IllegalArgumentException(expected + ", not '" + s + "'");
    }

    public EnsembleSpec {
        if (members == null || members.isEmpty()) {
            throw new IllegalArgumentException("an ensemble needs at least one member");
        }
        members = List.copyOf(members);
        if (combine == null || missing == null) {
            throw new IllegalArgumentException("an ensemble needs a combine mode and a missing-member policy");
        }
        if (minMembers < 1 || minMembers > members.size()) {
            throw new IllegalArgumentException("min_members must be between 1 and the number of members ("
                    + members.size() + "), not " + minMembers);
        }
    }

    /** How many members must answer for the request to be answered. */
    public int required() {
        return missing == Missing.FAIL ? members.size() : minMembers;
    }

    /**
     * A content hash of this spec (sha256 of its canonical text): the ensemble version's
     * {@code sha256}, so redeploying the same spec is idempotent and a different one a conflict.
     */
    public String contentHash() {
        StringBuilder s = new StringBuilder("ensemble:").append(combine.wireName()).append(';')
                .append(missing.wireName()).append(';').append(minMembers);
        for (Member m : members) {
            s.append(';').append(m.label()).append(':').append(m.weight());
        }
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(s.toString().getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
