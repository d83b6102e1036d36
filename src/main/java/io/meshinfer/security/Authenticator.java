package io.meshinfer.security;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.meshinfer.api.Principal;
import java.io.IOException;
import java.nio.file.Path;
import java.security.interfaces.ECPublicKey;
import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Turns an {@code Authorization: Bearer <JWT>} header into a {@link Principal}, or says
 * exactly why not. A token is accepted only if it is an ES256 JWS whose signature one of
 * the trusted public keys verifies (any other algorithm, {@code none} included, is
 * refused), it carries {@code sub}, {@code exp}, {@code models} and {@code regions}, and
 * the time is within {@code [nbf - skew, exp + skew]} ({@code iat} stands in for a missing
 * {@code nbf}). The signature is checked before any claim, so a forged token learns
 * nothing about its claims. Stateless and thread-safe.
 */
public final class Authenticator {
    /** Claim: the principal's roles (string array; may be absent, meaning none). */
    public static final String ROLES = "roles";
    /** Claim: the models the principal may use (string array, {@code "*"} for any). */
    public static final String MODELS = "models";
    /** Claim: the regions the principal's requests may be served in (string array, {@code "*"} for any). */
    public static final String REGIONS = "regions";

    private static final int MAX_TOKEN_CHARS = 8192;
    private static final int MAX_CLAIM_ENTRIES = 1024;

    /** Why a caller was not authenticated. */
    public enum Failure {
        /** No {@code Authorization} header, or not a bearer token. */
        MISSING,
        /** Not a well-formed ES256 JWT with the claims meshinfer needs. */
        MALFORMED,
        /** The signature does not verify with any trusted key (forged, or signed by another key). */
        BAD_SIGNATURE,
        /** {@code exp} has passed (beyond the allowed clock skew). */
        EXPIRED,
        /** {@code nbf} is still ahead (beyond the allowed clock skew). */
        NOT_YET_VALID
    }

    /** The outcome of authenticating one request. */
    public sealed interface Result {
    }

    public record Authenticated(Principal principal) implements Result {
    }

    public record Refused(Failure failure, String message) implements Result {
    }

    private record Key(String id, ECDSAVerifier verifier) {
    }

    private final List<Key> keys;
    private final Duration skew;

    public Authenticator(List<ECPublicKey> publicKeys, Duration clockSkew) {
        if (publicKeys.isEmpty()) {
            throw new IllegalArgumentException("at least one public key is needed");
        }
        List<Key> ks = new ArrayList<>();
        for (ECPublicKey k : publicKeys) {
            try {
                ks.add(new Key(TokenKeys.keyId(k), new ECDSAVerifier(k)));
            } catch (JOSEException e) {
                throw new IllegalArgumentException("not a usable ES256 public key: " + e.getMessage(), e);
            }
        }
        this.keys = List.copyOf(ks);
        this.skew = clockSkew;
    }

    /** An authenticator trusting the public keys in a PEM file. */
    public static Authenticator fromFile(Path publicKeyFile, Duration clockSkew) throws IOException {
        return new Authenticator(TokenKeys.readPublic(publicKeyFile), clockSkew);
    }

    /** @param authorization the {@code Authorization} header's value, or null when absent */
    public Result authenticate(String authorization, Instant now) {
        if (authorization == null || authorization.isBlank()) {
            return new Refused(Failure.MISSING, "missing bearer token: send Authorization: Bearer <JWT>");
        }
        String value = authorization.strip();
        int space = value.indexOf(' ');
        if (space < 0 || !value.substring(0, space).toLowerCase(Locale.ROOT).equals("bearer")) {
            return new Refused(Failure.MISSING, "the Authorization header must carry a bearer token"
                    + " (Authorization: Bearer <JWT>)");
        }
        String token = value.substring(space + 1).strip();
        if (token.isEmpty()) {
            return new Refused(Failure.MISSING, "missing bearer token: the Authorization header is empty");
        }
        if (token.length() > MAX_TOKEN_CHARS) {
            return new Refused(Failure.MALFORMED, "malformed bearer token: longer than " + MAX_TOKEN_CHARS
                    + " characters");
        }
        SignedJWT jwt;
        try {
            jwt = SignedJWT.parse(token);
        } catch (ParseException | IllegalArgumentException e) {
            return new Refused(Failure.MALFORMED, "malformed bearer token: not a signed JWT (" + e.getMessage() + ")");
        }
        if (!JWSAlgorithm.ES256.equals(jwt.getHeader().getAlgorithm())) {
            return new Refused(Failure.BAD_SIGNATURE, "token signature not accepted: algorithm "
                    + jwt.getHeader().getAlgorithm() + " is not ES256");
        }
        if (!verified(jwt)) {
            return new Refused(Failure.BAD_SIGNATURE, "token signature is not valid: it was not signed by a key"
                    + " this node trusts");
        }
        JWTClaimsSet claims;
        try {
            claims = jwt.getJWTClaimsSet();
        } catch (ParseException e) {
            return new Refused(Failure.MALFORMED, "malformed bearer token: unreadable claims (" + e.getMessage() + ")");
        }
        return check(claims, now);
    }

    private boolean verified(SignedJWT jwt) {
        String kid = jwt.getHeader().getKeyID();
        List<Key> order = new ArrayList<>(keys);
        if (kid != null) {
            order.sort((a, b) -> Boolean.compare(!a.id().equals(kid), !b.id().equals(kid)));
        }
        for (Key k : order) {
            try {
                if (jwt.verify(k.verifier())) {
                    return true;
                }
            } catch (JOSEException | IllegalStateException e) {
                // a signature this key cannot even check (wrong size or encoding): not verified by it
            }
        }
        return false;
    }

    private Result check(JWTClaimsSet claims, Instant now) {
        Date exp = claims.getExpirationTime();
        if (exp == null) {
            return new Refused(Failure.MALFORMED, "malformed bearer token: it has no expiry (exp)");
        }
        if (now.isAfter(exp.toInstant().plus(skew))) {
            return new Refused(Failure.EXPIRED, "token expired at " + exp.toInstant() + " (allowed clock skew "
                    + skew.toSeconds() + " s)");
        }
        Date nbf = claims.getNotBeforeTime() != null ? claims.getNotBeforeTime() : claims.getIssueTime();
        if (nbf != null && now.isBefore(nbf.toInstant().minus(skew))) {
            return new Refused(Failure.NOT_YET_VALID, "token is not valid before " + nbf.toInstant()
                    + " (allowed clock skew " + skew.toSeconds() + " s)");
        }
        String subject = claims.getSubject();
        if (subject == null || subject.isBlank()) {
            return new Refused(Failure.MALFORMED, "malformed bearer token: it names no subject (sub)");
        }
        try {
            Set<String> roles = strings(claims, ROLES, false);
            Set<String> models = strings(claims, MODELS, true);
            Set<String> regions = strings(claims, REGIONS, true);
            return new Authenticated(new Principal(subject, roles, models, regions, claims.getJWTID()));
        } catch (IllegalArgumentException e) {
            return new Refused(Failure.MALFORMED, "malformed bearer token: " + e.getMessage());
        }
    }

    private static Set<String> strings(JWTClaimsSet claims, String name, boolean required) {
        Object v = claims.getClaim(name);
        if (v == null) {
            if (required) {
                throw new IllegalArgumentException("it lacks the '" + name + "' claim (a list; \"*\" means any)");
            }
            return Set.of();
        }
        if (!(v instanceof List<?> list)) {
            throw new IllegalArgumentException("claim '" + name + "' must be a list of strings");
        }
        if (list.size() > MAX_CLAIM_ENTRIES) {
            throw new IllegalArgumentException("claim '" + name + "' has more than " + MAX_CLAIM_ENTRIES + " entries");
        }
        Set<String> out = new LinkedHashSet<>();
        for (Object o : list) {
            if (!(o instanceof String s) || s.isEmpty()) {
                throw new IllegalArgumentException("claim '" + name + "' must be a list of non-empty strings");
            }
            out.add(s);
        }
        return out;
    }
}
