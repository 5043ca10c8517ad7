"""The target-side monitor: probes the backend, its upstream, its database and its process once a
second during a run (baseline before load, load, cooldown after), appends every sample to
RUN_DIR/monitor.jsonl and derives baseline / peak / recovery evidence (docs/monitor.md)."""
