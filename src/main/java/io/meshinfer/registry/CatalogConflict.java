package io.meshinfer.registry;

/**
 * A deploy or undeploy the catalog's writer refused because it conflicts with what the
 * catalog holds now (a version deployed differently meanwhile, a rollout that started):
 * answered 409, as the gateway's own checks answer the same conflicts when they see them
 * first. Not an inference error: it never travels between nodes.
 */
public final class CatalogConflict extends RuntimeException {
    public CatalogConflict(String message) {
        super(message, null, false, false);
    }
}
