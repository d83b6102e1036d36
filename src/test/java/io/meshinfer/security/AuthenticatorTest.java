package io.meshinfer.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.meshinfer.api.Principal;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.ECPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Token keys on disk, issuing, and the verification matrix, at fixed instants. */
class AuthenticatorTest {
    private static final Instant NOW = Instant.parse("2025-06-01T12:00:00Z");
    private static final Duration SKEW = Duration.ofSeconds(30);
    private static final KeyPair KEYS = TokenKeys.generate();
    private static final KeyPair OTHER = TokenKeys.generate();
    private static final Principal ALICE = new Principal("alice", Set.of("reader"), Set.of("mlp", "cnn"),
            Set.of("eu-west"), null);

    private static TokenIssuer issuer(KeyPair k) {
        return new TokenIssuer((ECPrivateKey) k.getPrivate(), (ECPublicKey) k.getPublic());
    }

    private static Authenticator authenticator(KeyPair... trusted) {
        return new Authenticator(java.util.Arrays.stream(trusted).map(k -> (ECPublicKey) k.getPublic()).toList(),
                SKEW);
    }

    private static String token(Instant issuedAt, Instant notBefore, Duration ttl) {
        return issuer(KEYS).issue(ALICE, issuedAt, notBefore, ttl);
    }

    private static Authenticator.Result check(String header) {
        return authenticator(KEYS).authenticate(header, NOW);
    }

    private static Authenticator.Failure refused(Authenticator.Result r) {
        return assertInstanceOf(Authenticator.Refused.class, r, String.valueOf(r)).failure();
    }

    @Test
    void aValidTokenYieldsItsPrincipal() {
        Authenticator.Result r = check("Bearer " + token(NOW, NOW, Duration.ofHours(1)));
        Principal p = assertInstanceOf(Authenticator.Authenticated.class, r).principal();
        assertEquals("alice", p.subject());
        assertEquals(Set.of("reader"), p.roles());
        assertEquals(Set.of("mlp", "cnn"), p.models());
        assertEquals(Set.of("eu-west"), p.regions());
        assertTrue(p.tokenId() != null && !p.tokenId().isEmpty(), "jti");
        assertInstanceOf(Authenticator.Authenticated.class, check("bearer  " + token(NOW, NOW, Duration.ofHours(1))),
                "the scheme is case-insensitive");
    }

    @Test
    void eachRefusalSaysWhy() {
        assertEquals(Authenticator.Failure.MISSING, refused(check(null)));
        assertEquals(Authenticator.Failure.MISSING, refused(check("Basic YWxpY2U6c2VjcmV0")));
        assertEquals(Authenticator.Failure.MISSING, refused(check("Bearer ")));
        assertEquals(Authenticator.Failure.MALFORMED, refused(check("Bearer not.a.jwt")));
        assertEquals(Authenticator.Failure.MALFORMED, refused(check("Bearer abc")));
        assertEquals(Authenticator.Failure.MALFORMED, refused(check("Bearer " + "x".repeat(9000))));

        String good = token(NOW, NOW, Duration.ofHours(1));
        String[] parts = good.split("\\.");
        String unsigned = Base64.getUrlEncoder().withoutPadding().encodeToString(
                "{\"alg\":\"none\"}".getBytes(StandardCharsets.UTF_8)) + "." + parts[1] + ".";
        assertEquals(Authenticator.Failure.MALFORMED, refused(check("Bearer " + unsigned)), "alg none");

        String forged = issuer(OTHER).issue(ALICE, NOW, NOW, Duration.ofHours(1));
        Authenticator.Result r = check("Bearer " + forged);
        assertEquals(Authenticator.Failure.BAD_SIGNATURE, refused(r));
        assertTrue(((Authenticator.Refused) r).message().contains("not signed by a key this node trusts"));

        String otherClaims = parts[0] + "." + issuer(KEYS).issue(new Principal("mallory", Set.of("admin"),
                Set.of("*"), Set.of("*"), null), NOW, NOW, Duration.ofHours(1)).split("\\.")[1] + "." + parts[2];
        assertEquals(Authenticator.Failure.BAD_SIGNATURE, refused(check("Bearer " + otherClaims)),
                "claims swapped under a valid signature");

        Authenticator.Result expired = check("Bearer " + token(NOW.minusSeconds(7200), NOW.minusSeconds(7200),
                Duration.ofHours(1)));
        assertEquals(Authenticator.Failure.EXPIRED, refused(expired));
        assertTrue(((Authenticator.Refused) expired).message().startsWith("token expired at 2025-06-01T11:00:00Z"),
                ((Authenticator.Refused) expired).message());

        Authenticator.Result early = check("Bearer " + token(NOW, NOW.plusSeconds(600), Duration.ofHours(1)));
        assertEquals(Authenticator.Failure.NOT_YET_VALID, refused(early));
    }

    @Test
    void theClockSkewIsTolerated() {
        assertInstanceOf(Authenticator.Authenticated.class, check("Bearer " + token(NOW.minusSeconds(3620),
                NOW.minusSeconds(3620), Duration.ofHours(1))), "expired 20 s ago, within 30 s of skew");
        assertInstanceOf(Authenticator.Authenticated.class, check("Bearer " + token(NOW.plusSeconds(20),
                NOW.plusSeconds(20), Duration.ofHours(1))), "valid in 20 s, within 30 s of skew");
        assertEquals(Authenticator.Failure.EXPIRED, refused(check("Bearer " + token(NOW.minusSeconds(3640),
                NOW.minusSeconds(3640), Duration.ofHours(1)))));
    }

    @Test
    void otherAlgorithmsAndMissingClaimsAreRefused() throws Exception {
        JWTClaimsSet full = new JWTClaimsSet.Builder().subject("alice").claim("models", List.of("*"))
                .claim("regions", List.of("*")).issueTime(Date.from(NOW)).expirationTime(Date.from(NOW.plusSeconds(60)))
                .build();
        SignedJWT hmac = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), full);
        hmac.sign(new MACSigner(new byte[32]));
        assertEquals(Authenticator.Failure.BAD_SIGNATURE, refused(check("Bearer " + hmac.serialize())));

        for (String missing : List.of("sub", "exp", "models", "regions")) {
            JWTClaimsSet.Builder b = new JWTClaimsSet.Builder(full);
            b.claim(missing, null);
            SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.ES256), b.build());
            jwt.sign(new com.nimbusds.jose.crypto.ECDSASigner((ECPrivateKey) KEYS.getPrivate()));
            Authenticator.Result r = check("Bearer " + jwt.serialize());
            assertEquals(Authenticator.Failure.MALFORMED, refused(r), missing);
        }
        JWTClaimsSet badModels = new JWTClaimsSet.Builder(full).claim("models", "mlp").build();
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.ES256), badModels);
        jwt.sign(new com.nimbusds.jose.crypto.ECDSASigner((ECPrivateKey) KEYS.getPrivate()));
        assertEquals(Authenticator.Failure.MALFORMED, refused(check("Bearer " + jwt.serialize())));
    }

    @Test
    void severalTrustedKeysAllowRotation() {
        Authenticator both = authenticator(OTHER, KEYS);
        assertInstanceOf(Authenticator.Authenticated.class, both.authenticate("Bearer " + token(NOW, NOW,
                Duration.ofMinutes(5)), NOW));
        String noKid = new TokenIssuer((ECPrivateKey) OTHER.getPrivate(), null).issue(ALICE, NOW, NOW,
                Duration.ofMinutes(5));
        assertInstanceOf(Authenticator.Authenticated.class, both.authenticate("Bearer " + noKid, NOW));
    }

    @Test
    void keysRoundTripThroughPemFilesAndThePrivateOneIsOwnerOnly(@TempDir Path dir) throws IOException {
        KeyPair pair = TokenKeys.generate();
        TokenKeys.writePair(pair, dir);
        Path signing = dir.resolve(TokenKeys.SIGNING_FILE);
        Path verify = dir.resolve(TokenKeys.VERIFY_FILE);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(signing)));
        assertTrue(Files.readString(signing).startsWith("-----BEGIN PRIVATE KEY-----"));
        assertTrue(Files.readString(verify).startsWith("-----BEGIN PUBLIC KEY-----"));
        assertThrows(FileAlreadyExistsException.class, () -> TokenKeys.writePair(TokenKeys.generate(), dir));

        ECPrivateKey priv = TokenKeys.readPrivate(signing);
        List<ECPublicKey> pub = TokenKeys.readPublic(verify);
        assertEquals(1, pub.size());
        String t = new TokenIssuer(priv, pub.get(0)).issue(ALICE, Duration.ofMinutes(1));
        assertInstanceOf(Authenticator.Authenticated.class,
                Authenticator.fromFile(verify, SKEW).authenticate("Bearer " + t, Instant.now()));

        Path two = dir.resolve("two.pem");
        Files.writeString(two, Files.readString(verify) + TokenKeys.pem("PUBLIC KEY", OTHER.getPublic().getEncoded()));
        assertEquals(2, TokenKeys.readPublic(two).size());
        assertThrows(IOException.class, () -> TokenKeys.readPublic(signing), "a private key is no public key");
    }
}
