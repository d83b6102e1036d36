package io.meshinfer.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.meshinfer.api.InferenceException;
import io.meshinfer.models.DemoModel;
import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import io.meshinfer.testmodels.HostileModels;
import io.meshinfer.testmodels.TestModels;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.BiFunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutated model files through the node's loader ({@link ModelRuntime}: the checks, then
 * ONNX Runtime), seeded: every case ends in a {@link ModelLoadException} or a loaded model,
 * and a loaded model, run once on zeros, ends in outputs or a typed
 * {@link InferenceException}; never a crash of the JVM (ONNX Runtime is native), a hang or
 * a leaked session. Structural mutations of this generator are what found element types
 * that crashed ONNX Runtime 1.23.2 before {@link OnnxModelCheck} refused them.
 */
class ModelLoaderFuzzTest {
    private static final List<byte[]> VALID = List.of(TestModels.mlp(), TestModels.twoInTwoOut(),
            TestModels.dynamicConv(), TestModels.allTypes(), TestModels.int64Embedding(), TestModels.scalarInput(),
            TestModels.noBatchAxis(), DemoModel.build());
    private static ModelRuntime runtime;

    @TempDir
    static Path dir;

    @BeforeAll
    static void start() {
        runtime = new ModelRuntime(TestModelFiles.settings());
    }

    @AfterAll
    static void stop() {
        runtime.close();
    }

    /** Outcomes of one fuzz run. */
    private record Tally(int refused, int loaded, int ran, int failedTyped) {
    }

    @Test
    void byteLevelMutationsAreRefusedOrLoadAndNeverCrash() {
        Tally t = assertTimeoutPreemptively(Duration.ofSeconds(60),
                () -> fuzz(1500, 11, (valid, random) -> HostileModels.mutate(valid,
                        VALID.get(random.nextInt(VALID.size())), random)));
        assertTrue(t.refused() > 500 && t.loaded() > 50, t.toString());
    }

    @Test
    void structuralMutationsAreRefusedOrLoadAndNeverCrash() {
        Tally t = assertTimeoutPreemptively(Duration.ofSeconds(60),
                () -> fuzz(3000, 12, HostileModels::mutateFields));
        assertTrue(t.refused() > 100 && t.ran() > 100, t.toString());
    }

    private static Tally fuzz(int cases, long seed, BiFunction<byte[], Random, byte[]> mutation) throws Exception {
        int refused = 0;
        int loaded = 0;
        int ran = 0;
        int failedTyped = 0;
        for (int i = 0; i < cases; i++) {
            Random random = new Random(seed * 1_000_003L + i);
            byte[] bytes = mutation.apply(VALID.get(random.nextInt(VALID.size())), random);
            String sha = TestModelFiles.sha256(bytes);
            Path file = TestModelFiles.write(dir, sha + ".onnx", bytes);
            LoadedModel model;
            try {
                model = runtime.acquire(sha, file);
            } catch (ModelLoadException expected) {
                assertTrue(expected.getMessage() != null && !expected.getMessage().isEmpty(), "case " + i);
                refused++;
                continue;
            } finally {
                java.nio.file.Files.delete(file);
            }
            loaded++;
            try {
                List<NamedTensor> zeros = zeros(model.signature());
                if (zeros != null) {
                    model.run(zeros, Set.of());
                    ran++;
                }
            } catch (InferenceException typed) {
                failedTyped++;
            } catch (RuntimeException e) {
                fail("case " + i + ": running a mutated model ended in " + e, e);
            } finally {
                runtime.release(model);
            }
        }
        assertEquals(Map.of(), runtime.loadedSessions(), "every session released");
        return new Tally(refused, loaded, ran, failedTyped);
    }

    /** Zero tensors for every input (dynamic dimensions 2), or null if that would be large. */
    private static List<NamedTensor> zeros(ModelSignature signature) {
        List<NamedTensor> out = new ArrayList<>();
        for (TensorSpec spec : signature.inputs()) {
            long[] shape = new long[spec.rank()];
            long n = 1;
            for (int d = 0; d < shape.length; d++) {
                shape[d] = spec.shape().get(d).isDynamic() ? 2 : spec.shape().get(d).size();
                n *= shape[d];
                if (n > 100_000 || n < 0) {
                    return null;
                }
            }
            out.add(new NamedTensor(spec.name(), Tensor.of(spec.dtype(), shape, spec.dtype().newArray((int) n))));
        }
        return out;
    }
}
