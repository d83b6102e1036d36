package io.meshinfer.cli;

import io.meshinfer.api.Principal;
import io.meshinfer.security.TokenIssuer;
import io.meshinfer.security.TokenKeys;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.ECPublicKey;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code meshinfer token keygen|issue}: the signing key pair of bearer tokens, and tokens
 * signed with it for a subject, its roles, and the models and regions it may use.
 */
@Command(name = "token", mixinStandardHelpOptions = true,
        description = "Make token keys and issue bearer tokens (ES256 JWTs) for nodes started with --auth-public-key.",
        subcommands = {TokenCommand.Keygen.class, TokenCommand.Issue.class})
final class TokenCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("name a token command: keygen or issue (meshinfer token --help)");
        return 2;
    }

    @Command(name = "keygen", mixinStandardHelpOptions = true,
            description = "Write a new signing key (token-signing.pem, mode 600) and its verification key"
                    + " (token-verify.pem, for the nodes' --auth-public-key) into a directory.")
    static final class Keygen implements Callable<Integer> {
        @Option(names = "--out", required = true, description = "Directory for the two files (created if needed).")
        Path out;

        @Override
        public Integer call() {
            try {
                TokenKeys.writePair(TokenKeys.generate(), out);
            } catch (FileAlreadyExistsException e) {
                System.err.println("token keygen: " + e.getFile() + " exists; refusing to overwrite a key");
                return 1;
            } catch (IOException e) {
                System.err.println("token keygen: " + e.getMessage());
                return 1;
            }
            System.out.println("signing key (keep it secret): " + out.resolve(TokenKeys.SIGNING_FILE));
            System.out.println("verification key (give it to every node as --auth-public-key): "
                    + out.resolve(TokenKeys.VERIFY_FILE));
            return 0;
        }
    }

    @Command(name = "issue", mixinStandardHelpOptions = true,
            description = "Print a bearer token (ES256 JWT) signed with the private key.")
    static final class Issue implements Callable<Integer> {
        @Option(names = "--private-key", required = true, description = "The signing key (token-signing.pem).")
        Path privateKey;

        @Option(names = "--public-key",
                description = "Its verification key, to name it in the token (default: token-verify.pem beside the"
                        + " signing key, if there).")
        Path publicKey;

        @Option(names = "--subject", required = true, description = "Who the token is for (the sub claim).")
        String subject;

        @Option(names = "--roles", split = ",", description = "Roles, e.g. admin (default: none).")
        List<String> roles = new ArrayList<>();

        @Option(names = "--models", split = ",", required = true,
                description = "Models the token may use, or '*' for any.")
        List<String> models;

        @Option(names = "--regions", split = ",", required = true,
                description = "Regions its requests may be served in, or '*' for any.")
        List<String> regions;

        @Option(names = "--ttl", defaultValue = "1h",
                description = "Lifetime: 90s, 30m, 12h, 7d or ISO-8601 (PT1H) (default: ${DEFAULT-VALUE}).")
        String ttl;

        @Override
        public Integer call() {
            Duration lifetime;
            try {
                lifetime = parseDuration(ttl);
            } catch (IllegalArgumentException e) {
                System.err.println("token issue: " + e.getMessage());
                return 2;
            }
            List<String> cleanModels = clean(models);
            List<String> cleanRegions = clean(regions);
            if (cleanModels.isEmpty() || cleanRegions.isEmpty()) {
                System.err.println("token issue: --models and --regions need at least one name, or '*' for any");
                return 2;
            }
            try {
                ECPrivateKey key = TokenKeys.readPrivate(privateKey);
                ECPublicKey pub = verificationKey();
                Principal p = new Principal(subject, Set.copyOf(clean(roles)), Set.copyOf(cleanModels),
                        Set.copyOf(cleanRegions), null);
                System.out.println(new TokenIssuer(key, pub).issue(p, lifetime));
                return 0;
            } catch (IOException | IllegalArgumentException e) {
                System.err.println("token issue: " + e.getMessage());
                return 1;
            }
        }

        private ECPublicKey verificationKey() throws IOException {
            Path p = publicKey;
            if (p == null) {
                Path beside = privateKey.toAbsolutePath().resolveSibling(TokenKeys.VERIFY_FILE);
                if (!Files.isRegularFile(beside)) {
                    return null;
                }
                p = beside;
            }
            return TokenKeys.readPublic(p).get(0);
        }

        private static List<String> clean(List<String> names) {
            List<String> out = new ArrayList<>();
            for (String n : names) {
                if (!n.isBlank()) {
                    out.add(n.strip());
                }
            }
            return out;
        }
    }

    private static final Pattern SHORT_DURATION = Pattern.compile("(\\d+)\\s*([smhd])");

    /** {@code 90s}, {@code 30m}, {@code 12h}, {@code 7d}, or ISO-8601 ({@code PT1H}); positive. */
    static Duration parseDuration(String text) {
        String t = text.strip().toLowerCase(Locale.ROOT);
        Duration d;
        Matcher m = SHORT_DURATION.matcher(t);
        try {
            if (m.matches()) {
                long n = Long.parseLong(m.group(1));
                d = switch (m.group(2)) {
                    case "s" -> Duration.ofSeconds(n);
                    case "m" -> Duration.ofMinutes(n);
                    case "h" -> Duration.ofHours(n);
                    default -> Duration.ofDays(n);
                };
            } else {
                d = Duration.parse(text.strip().toUpperCase(Locale.ROOT));
            }
        } catch (DateTimeParseException | ArithmeticException | NumberFormatException e) {
            throw new IllegalArgumentException("--ttl must be like 90s, 30m, 12h, 7d or PT1H, not '" + text + "'");
        }
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException("--ttl must be positive, not '" + text + "'");
        }
        return d;
    }
}
