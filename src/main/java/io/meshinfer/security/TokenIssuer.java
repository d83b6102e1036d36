package io.meshinfer.security;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.meshinfer.api.Principal;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.ECPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.TreeSet;
import java.util.UUID;

/**
 * Signs bearer tokens (ES256 JWTs) for a principal. The claims are {@code sub}, the
 * meshinfer claims {@code roles}, {@code models} and {@code regions} (string arrays;
 * {@code "*"} means any, an empty array none), {@code iat}, {@code nbf}, {@code exp}, a
 * random {@code jti} and {@code iss = "meshinfer"}; the header names the key
 * ({@code kid}, its thumbprint) so verifiers holding several keys pick the right one.
 */
public final class TokenIssuer {
    /** The issuer claim of meshinfer's tokens. */
    public static final String ISSUER = "meshinfer";

    private final ECPrivateKey key;
    private final String keyId;

    /** @param publicKey the signing key's public half, to name it in the {@code kid} header (may be null) */
    public TokenIssuer(ECPrivateKey key, ECPublicKey publicKey) {
        this.key = key;
        this.keyId = publicKey == null ? null : TokenKeys.keyId(publicKey);
    }

    /**
     * A token for {@code principal} (its {@code tokenId} is ignored: every token gets a fresh
     * {@code jti}) valid from {@code notBefore} until {@code issuedAt + ttl}.
     */
    public String issue(Principal principal, Instant issuedAt, Instant notBefore, Duration ttl) {
        if (ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException("a token's lifetime must be positive, not " + ttl);
        }
        JWTClaimsSet claims = new JWTClaimsSet.Builder()
                .issuer(ISSUER)
                .subject(principal.subject())
                .claim(Authenticator.ROLES, new ArrayList<>(new TreeSet<>(principal.roles())))
                .claim(Authenticator.MODELS, new ArrayList<>(new TreeSet<>(principal.models())))
                .claim(Authenticator.REGIONS, new ArrayList<>(new TreeSet<>(principal.regions())))
                .issueTime(Date.from(issuedAt))
                .notBeforeTime(Date.from(notBefore))
                .expirationTime(Date.from(issuedAt.plus(ttl)))
                .jwtID(UUID.randomUUID().toString())
                .build();
        JWSHeader.Builder header = new JWSHeader.Builder(JWSAlgorithm.ES256).type(JOSEObjectType.JWT);
        if (keyId != null) {
            header.keyID(keyId);
        }
        SignedJWT jwt = new SignedJWT(header.build(), claims);
        try {
            jwt.sign(new ECDSASigner(key));
        } catch (JOSEException e) {
            throw new IllegalStateException("cannot sign the token: " + e.getMessage(), e);
        }
        return jwt.serialize();
    }

    /** A token valid from now for {@code ttl}. */
    public String issue(Principal principal, Duration ttl) {
        Instant now = Instant.now();
        return issue(principal, now, now, ttl);
    }
}
