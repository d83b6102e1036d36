package io.meshinfer.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

class BenchReportTest {
    private static BenchReport withPoints() {
        BenchReport r = new BenchReport();
        r.raw(new RawBaseline.Point(8, 2, 1, 400, 2));
        r.raw(new RawBaseline.Point(16, 2, 1, 430, 2));
        r.raw(new RawBaseline.Point(32, 1, 2, 390, 2));
        r.rawBatchOneP50Millis(4.7);
        return r;
    }

    @Test
    void withoutASecondMeasurementTheBaselineIsTheHighestPoint() {
        BenchReport r = withPoints();
        assertEquals(430, r.rawBest());
        assertTrue(r.markdown().contains("Raw best: 430 samples/s;"), r.markdown());
    }

    @Test
    void theHighestPointsConfigurationMeasuredAgainBecomesTheBaseline() {
        BenchReport r = withPoints();
        RawBaseline.Point highest = r.rawHighest().orElseThrow();
        assertEquals(16, highest.batch());
        assertThrows(IllegalArgumentException.class, () -> r.rawBestAgain(new RawBaseline.Point(16, 1, 2, 411, 20)),
                "another configuration measured again is not the baseline");
        r.rawBestAgain(new RawBaseline.Point(16, 2, 1, 411, 20));

        assertEquals(411, r.rawBest());
        String md = r.markdown();
        assertTrue(md.contains("Raw best: 411 samples/s, batch 16 at 2 x 1 measured again for 20 s"
                + " (its point above, the highest of 3, read 430)"), md);
        ObjectNode json = r.json(new ObjectMapper());
        assertEquals(411, json.get("rawBest").asDouble());
        assertEquals(430, json.get("rawHighestPoint").asDouble());
        assertEquals(20, json.get("rawBestAgain").get("seconds").asDouble());
    }

    private static LoadGenerator.Result point(String mode, double load, double seconds, long ok, long p99Micros) {
        org.HdrHistogram.Histogram latency = new org.HdrHistogram.Histogram(3);
        for (long i = 0; i < ok; i++) {
            latency.recordValue(i < ok * 98 / 100 ? p99Micros / 2 : p99Micros); // the top 2 % at p99Micros
        }
        return new LoadGenerator.Result(mode, load, ok, ok, java.util.Map.of(), seconds, latency, 16, 0.5,
                new org.HdrHistogram.Histogram(3), 5);
    }

    @Test
    void anOpenLoopPointIsComparedWithTheSeriesCapacity() {
        BenchReport r = new BenchReport();
        r.add("engine", point("closed", 16, 10, 3_000, 100_000));
        r.add("engine", point("closed", 32, 10, 4_000, 120_000)); // capacity: most requests per second
        r.add("engine", point("open", 3900, 10, 3_800, 240_000));

        String md = r.markdown();
        assertTrue(md.contains("engine at rate 3900: accepted p99 240."), md);
        assertTrue(md.contains("is 2.00x the p99 at capacity (120."), md);
        assertTrue(md.contains("at c=32, its closed loop of most requests/s)"), md);
        ObjectNode json = r.json(new ObjectMapper());
        assertEquals(2.0, json.get("series").get("engine").get(2).get("p99VsCapacity").asDouble(), 0.01);
        assertTrue(json.get("series").get("engine").get(1).get("p99VsCapacity") == null);
    }

    @Test
    void withoutAClosedLoopThereIsNoCapacityToCompareWith() {
        BenchReport r = new BenchReport();
        r.add("engine", point("open", 3900, 10, 3_800, 240_000));
        assertTrue(!r.markdown().contains("capacity"), r.markdown());
    }

    @Test
    void noBaselineIsNotANumber() {
        assertTrue(Double.isNaN(new BenchReport().rawBest()));
    }
}
