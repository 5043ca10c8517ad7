"""The metrics store (HDR histograms, counters, rates, gauges, per-second series), its event log
and the thresholds grammar that reads it."""
