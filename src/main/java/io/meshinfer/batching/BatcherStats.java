package io.meshinfer.batching;

import java.util.concurrent.atomic.LongAdder;

/** Counters of one batcher, updated lock-free from the stream and the run threads. */
public final class BatcherStats {
    final LongAdder submitted = new LongAdder();
    final LongAdder overloaded = new LongAdder();
    final LongAdder expired = new LongAdder();
    final LongAdder runs = new LongAdder();
    final LongAdder batchedRows = new LongAdder();
    final LongAdder batchedRequests = new LongAdder();
    final LongAdder succeeded = new LongAdder();
    final LongAdder failed = new LongAdder();
    final LongAdder retriedAlone = new LongAdder();
    /** Rows per model run. */
    public final Buckets batchRows = new Buckets(Buckets.ROWS);
    /** Seconds a request waited in the queue before its run began. */
    public final Buckets queueWait = new Buckets(Buckets.SECONDS);
    /** Seconds per model run (the whole batch). */
    public final Buckets runTime = new Buckets(Buckets.SECONDS);

    /** A consistent-enough copy of the counters. */
    public Snapshot snapshot() {
        return new Snapshot(submitted.sum(), overloaded.sum(), expired.sum(), runs.sum(),
                batchedRows.sum(), batchedRequests.sum(), succeeded.sum(), failed.sum(), retriedAlone.sum());
    }

    /**
     * @param runs model runs (a batch is one run)
     * @param batchedRows rows summed over runs
     * @param batchedRequests requests summed over runs
     * @param retriedAlone requests re-run alone after their batch failed
     */
    public record Snapshot(long submitted, long overloaded, long expired, long runs, long batchedRows,
                           long batchedRequests, long succeeded, long failed, long retriedAlone) {
        /** Mean number of requests per run, or 0 before the first run. */
        public double meanBatchRequests() {
            return runs == 0 ? 0 : (double) batchedRequests / runs;
        }

        public double meanBatchRows() {
            return runs == 0 ? 0 : (double) batchedRows / runs;
        }
    }
}
