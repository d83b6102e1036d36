package io.meshinfer.security;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The keys of bearer tokens: ECDSA on P-256 (ES256), which the JDK signs and verifies with
 * no extra provider. The signing key is written as PKCS#8 PEM ({@code PRIVATE KEY}) that
 * only its owner may read (mode 600, set when the file is created, so it is never readable
 * by others, not even briefly); verification keys as X.509 PEM ({@code PUBLIC KEY}). A
 * verification file may hold several public keys (one per PEM block), so a signing key can
 * be replaced without a moment where tokens of the old one are refused.
 */
public final class TokenKeys {
    /** The file {@code meshinfer token keygen} writes the signing key to. */
    public static final String SIGNING_FILE = "token-signing.pem";
    /** The file {@code meshinfer token keygen} writes the verification key to. */
    public static final String VERIFY_FILE = "token-verify.pem";

    private static final Pattern PEM = Pattern.compile(
            "-----BEGIN ([A-Z ]+)-----\\s*([A-Za-z0-9+/=\\s]+?)\\s*-----END \\1-----");
    private static final long MAX_PEM_BYTES = 64 * 1024;

    private TokenKeys() {
    }

    /** A fresh P-256 key pair. */
    public static KeyPair generate() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this JDK cannot generate P-256 keys", e);
        }
    }

    /**
     * Writes {@code token-signing.pem} (mode 600) and {@code token-verify.pem} into
     * {@code dir}, creating it if needed. Refuses to overwrite either file.
     */
    public static void writePair(KeyPair pair, Path dir) throws IOException {
        Files.createDirectories(dir);
        Path signing = dir.resolve(SIGNING_FILE);
        Path verify = dir.resolve(VERIFY_FILE);
        for (Path p : List.of(signing, verify)) {
            if (Files.exists(p)) {
                throw new FileAlreadyExistsException(p + " exists; refusing to overwrite a key");
            }
        }
        writePrivate(signing, pair.getPrivate().getEncoded());
        Files.writeString(verify, pem("PUBLIC KEY", pair.getPublic().getEncoded()), StandardCharsets.US_ASCII,
                StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    }

    private static void writePrivate(Path file, byte[] pkcs8) throws IOException {
        byte[] text = pem("PRIVATE KEY", pkcs8).getBytes(StandardCharsets.US_ASCII);
        Set<PosixFilePermission> ownerOnly = PosixFilePermissions.fromString("rw-------");
        try {
            Files.createFile(file, PosixFilePermissions.asFileAttribute(ownerOnly));
        } catch (UnsupportedOperationException e) {
            throw new IOException("cannot create " + file + " readable only by its owner: the file system has no"
                    + " POSIX permissions", e);
        }
        Files.setPosixFilePermissions(file, ownerOnly); // the umask may have narrowed it; never widened
        Files.write(file, text, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
    }

    static String pem(String type, byte[] der) {
        String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der);
        return "-----BEGIN " + type + "-----\n" + body + "\n-----END " + type + "-----\n";
    }

    /** The signing key in a PKCS#8 PEM file. */
    public static ECPrivateKey readPrivate(Path file) throws IOException {
        List<byte[]> blocks = blocks(file, "PRIVATE KEY");
        if (blocks.size() != 1) {
            throw new IOException(file + " must hold exactly one PRIVATE KEY block (PKCS#8 PEM), found "
                    + blocks.size());
        }
        try {
            if (KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(blocks.get(0)))
                    instanceof ECPrivateKey key && isP256(key.getParams().getCurve().getField().getFieldSize())) {
                return key;
            }
        } catch (GeneralSecurityException e) {
            throw new IOException(file + " is not a P-256 (ES256) private key: " + e.getMessage(), e);
        }
        throw new IOException(file + " is not a P-256 (ES256) private key");
    }

    /** Every verification key in an X.509 PEM file (at least one). */
    public static List<ECPublicKey> readPublic(Path file) throws IOException {
        List<byte[]> blocks = blocks(file, "PUBLIC KEY");
        if (blocks.isEmpty()) {
            throw new IOException(file + " holds no PUBLIC KEY block (X.509 PEM, as meshinfer token keygen writes)");
        }
        List<ECPublicKey> keys = new ArrayList<>();
        for (byte[] der : blocks) {
            try {
                if (KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(der)) instanceof ECPublicKey k
                        && isP256(k.getParams().getCurve().getField().getFieldSize())) {
                    keys.add(k);
                    continue;
                }
            } catch (GeneralSecurityException e) {
                throw new IOException(file + " holds a key that is not a P-256 (ES256) public key: " + e.getMessage(),
                        e);
            }
            throw new IOException(file + " holds a key that is not a P-256 (ES256) public key");
        }
        return keys;
    }

    private static boolean isP256(int fieldBits) {
        return fieldBits == 256;
    }

    /** The RFC 7638 thumbprint of a public key: the {@code kid} of the tokens it verifies. */
    public static String keyId(ECPublicKey key) {
        try {
            return new ECKey.Builder(Curve.P_256, key).build().computeThumbprint().toString();
        } catch (JOSEException e) {
            throw new IllegalStateException("cannot compute a key thumbprint", e);
        }
    }

    private static List<byte[]> blocks(Path file, String type) throws IOException {
        if (Files.size(file) > MAX_PEM_BYTES) {
            throw new IOException(file + " is larger than " + MAX_PEM_BYTES + " bytes: not a PEM key file");
        }
        String text = Files.readString(file, StandardCharsets.US_ASCII);
        List<byte[]> out = new ArrayList<>();
        Matcher m = PEM.matcher(text);
        while (m.find()) {
            if (m.group(1).equals(type)) {
                try {
                    out.add(Base64.getMimeDecoder().decode(m.group(2)));
                } catch (IllegalArgumentException e) {
                    throw new IOException(file + ": a " + type + " block is not valid base64", e);
                }
            }
        }
        return out;
    }
}
