"""Running one scenario in several processes or on several machines, and merging the results.

split.py    slices a scenario's load models (VUs, iterations, rates) into N exact shares
tail.py     replays or copies events.jsonl files (run directories written before snapshots,
            --raw-events)
combined.py combines run directories' snapshots (or old events) into one run directory
merge.py    merges run directories (workers or shards) into one summary
handover.py workers send their snapshots to the parent over a pipe; it combines them live
workers.py  `--workers N`: child processes, live merged thresholds, abort across workers
shards.py   `--shard I/N` and the flags the commands share
fastloop.py the event loop the CLI runs on (uvloop when available)
"""
