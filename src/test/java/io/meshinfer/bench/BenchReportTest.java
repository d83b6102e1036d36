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

    @Test
    void noBaselineIsNotANumber() {
        assertTrue(Double.isNaN(new BenchReport().rawBest()));
    }
}
