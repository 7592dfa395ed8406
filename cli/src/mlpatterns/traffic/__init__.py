"""Traffic against a running pattern: `mlpatterns load` (open-loop load with realistic rows), and
where it is sent (a pattern's `mlpatterns up`, or a URL)."""
