package io.meshinfer.registry;

/** A replica's identity, written {@code model@version#replica} (the sharding entity id). */
public record ReplicaId(String model, String version, int replica) {

    public static String format(String model, String version, int replica) {
        return model + "@" + version + "#" + replica;
    }

    /** Parses an entity id. @throws IllegalArgumentException if it is not of that form */
    public static ReplicaId parse(String entityId) {
        int at = entityId.indexOf('@');
        int hash = entityId.lastIndexOf('#');
        if (at <= 0 || hash <= at + 1 || hash == entityId.length() - 1) {
            throw new IllegalArgumentException("not a replica id (model@version#replica): " + entityId);
        }
        try {
            return new ReplicaId(entityId.substring(0, at), entityId.substring(at + 1, hash),
                    Integer.parseInt(entityId.substring(hash + 1)));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a replica id (model@version#replica): " + entityId, e);
        }
    }

    public String key() {
        return model + "@" + version;
    }

    @Override
    public String toString() {
        return format(model, version, replica);
    }
}
