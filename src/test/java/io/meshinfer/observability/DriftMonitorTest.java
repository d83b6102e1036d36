package io.meshinfer.observability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.meshinfer.tensor.NamedTensor;
import io.meshinfer.tensor.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Drift statistics on seeded streams: stable traffic stays quiet, shifted inputs and classes are flagged. */
class DriftMonitorTest {
    private static final DriftSettings SETTINGS = new DriftSettings(true, 800, 800, 10, 8, 0.2, 16, 100, 1);

    private static List<NamedTensor> row(Random r, double shift) {
        float[] x = new float[8];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextGaussian() + shift);
        }
        return List.of(new NamedTensor("x", Tensor.ofFloats(new long[] {1, 8}, x)));
    }

    private static List<NamedTensor> classes(int predicted) {
        float[] y = new float[3];
        y[predicted] = 1;
        return List.of(new NamedTensor("y", Tensor.ofFloats(new long[] {1, 3}, y)));
    }

    @Test
    void stableTrafficIsNotFlaggedAndAShiftIs() {
        DriftRegistry registry = new DriftRegistry(SETTINGS);
        Random r = new Random(1);
        for (int i = 0; i < 400; i++) {
            registry.observe("m", "1", row(r, 0), classes(r.nextInt(3)));
        }
        DriftMonitor.Status stable = registry.statuses().get(0);
        assertFalse(stable.drifted(), stable.toString());
        DriftMonitor.Feature x = stable.features().get(0);
        assertTrue(x.referenceReady());
        assertTrue(x.psi() < 0.05, "same distribution: psi " + x.psi());
        assertEquals(0, x.referenceMean(), 0.1);

        for (int i = 0; i < 300; i++) {
            registry.observe("m", "1", row(r, 1.5), classes(r.nextInt(3)));
        }
        DriftMonitor.Status shifted = registry.statuses().get(0);
        DriftMonitor.Feature sx = shifted.features().get(0);
        assertTrue(shifted.drifted(), shifted.toString());
        assertTrue(sx.psi() > 0.5, "shifted by 1.5 sd: psi " + sx.psi());
        assertEquals(1.5, sx.mean(), 0.2);
        assertEquals("input", sx.kind());
    }

    /**
     * An output with a prediction per row of many (a class per pixel, say) is sampled like an
     * input: samples-per-tensor rows per request (8 here), evenly strided, not all of them.
     */
    @Test
    void largeClassifierOutputsAreSampledByRow() {
        DriftRegistry registry = new DriftRegistry(SETTINGS);
        Random r = new Random(5);
        int rows = 1024;
        float[] y = new float[rows * 3];
        for (int i = 0; i < rows; i++) {
            y[i * 3 + (i % 3)] = 1;
        }
        List<NamedTensor> out = List.of(new NamedTensor("y", Tensor.ofFloats(new long[] {1, rows, 3}, y)));
        // 25 requests of 8 sampled rows fill the reference (800 / 4 = 200 rows); 5 more reach the window
        for (int i = 0; i < 30; i++) {
            registry.observe("m", "1", row(r, 0), out);
        }
        DriftMonitor.Feature f = registry.statuses().get(0).features().stream()
                .filter(x -> x.name().equals("y")).findFirst().orElseThrow();
        assertTrue(f.referenceReady());
        assertEquals(5 * 8, f.windowSamples());

        // never more than samples-per-tensor rows, whatever the count: 15 rows sample 8 (every second)
        DriftRegistry odd = new DriftRegistry(new DriftSettings(true, 8, 800, 10, 8, 0.2, 16, 100, 1));
        List<NamedTensor> fifteen = List.of(new NamedTensor("y", Tensor.ofFloats(new long[] {15, 3},
                Arrays.copyOf(y, 45))));
        odd.observe("m", "1", row(r, 0), fifteen); // the reference: 8 / 4 = 2 rows
        odd.observe("m", "1", row(r, 0), fifteen);
        DriftMonitor.Feature g = odd.statuses().get(0).features().stream()
                .filter(x -> x.name().equals("y")).findFirst().orElseThrow();
        assertEquals(8 - 2 + 8, g.windowSamples());
    }

    @Test
    void aShiftInPredictedClassesIsFlagged() {
        DriftRegistry registry = new DriftRegistry(SETTINGS);
        Random r = new Random(2);
        for (int i = 0; i < 600; i++) {
            registry.observe("m", "1", row(r, 0), classes(r.nextInt(3)));
        }
        assertFalse(registry.statuses().get(0).drifted());
        for (int i = 0; i < 400; i++) {
            registry.observe("m", "1", row(r, 0), classes(r.nextInt(10) < 9 ? 2 : r.nextInt(3)));
        }
        DriftMonitor.Status s = registry.statuses().get(0);
        DriftMonitor.Feature y = s.features().stream().filter(f -> f.name().equals("y")).findFirst().orElseThrow();
        assertEquals("output-class", y.kind());
        assertTrue(y.psi() > 0.2, "class mix moved: psi " + y.psi());
        assertTrue(s.drifted());
    }

    @Test
    void memoryIsBoundedByTheVersionsStillHosted() {
        DriftRegistry registry = new DriftRegistry(SETTINGS);
        Random r = new Random(3);
        registry.observe("m", "1", row(r, 0), classes(0));
        registry.observe("m", "2", row(r, 0), classes(0));
        registry.retain(Set.of("m@2"));
        assertEquals(1, registry.statuses().size());
        assertEquals("2", registry.statuses().get(0).version());
        DriftRegistry off = DriftRegistry.off();
        off.observe("m", "1", row(r, 0), classes(0));
        assertTrue(off.statuses().isEmpty());
    }

    @Test
    void psiIsZeroForEqualDistributionsAndGrowsWithTheShift() {
        assertEquals(0, DriftMonitor.psi(new long[] {10, 20, 30}, new long[] {1, 2, 3}), 1e-12);
        double small = DriftMonitor.psi(new long[] {100, 100}, new long[] {110, 90});
        double large = DriftMonitor.psi(new long[] {100, 100}, new long[] {190, 10});
        assertTrue(small > 0 && small < large, small + " < " + large);
        assertTrue(Double.isNaN(DriftMonitor.psi(new long[] {0, 0}, new long[] {1, 1})));
    }
}
