package io.meshinfer.jmh;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.meshinfer.node.MeshConfig;
import io.meshinfer.tensor.Tensor;
import java.util.Random;

/**
 * Inputs shared by the benchmarks: tensors of fixed pseudo-random data (the same bytes in
 * every run, so encoded sizes do not drift) and the configuration for an in-process actor
 * system.
 */
final class Fixtures {
    private static final long SEED = 42;

    private Fixtures() {
    }

    /**
     * An FP32 tensor of standard-normal values, like activations; seeded, so every call with
     * the same shape gives the same data.
     */
    static Tensor floats(long... shape) {
        return floats(new Random(SEED), shape);
    }

    static Tensor floats(Random random, long... shape) {
        float[] data = new float[(int) Tensor.elementCount(shape)];
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) random.nextGaussian();
        }
        return Tensor.ofFloats(shape, data);
    }

    /**
     * meshinfer's configuration for a local actor system: no cluster, and no
     * serialize-messages (the test resources switch it on and sit on the benchmark classpath).
     */
    static Config localSystemConfig() {
        return MeshConfig.load(ConfigFactory.parseString("""
                pekko.actor.provider = local
                pekko.actor.serialize-messages = off
                """)).resolve();
    }
}
