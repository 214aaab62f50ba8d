-- Prints one machine-readable line after a wrk run: totals, every error class, p50/p99.
-- wrk counts HTTP statuses > 399 in errors.status.
done = function(summary, latency, requests)
  io.write(string.format(
    "WRKRESULT requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
