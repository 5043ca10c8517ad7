"""Reading a finished run: the verdict (performance targets with green/yellow/red zones,
verdict.py) and the diagnosis (one rule per failure mode, rules/), both from the metrics store
and the monitor's evidence (docs/diagnosis.md)."""
