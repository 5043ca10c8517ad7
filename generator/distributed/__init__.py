"""Running one scenario in several processes or on several machines, and merging the results.

split.py    slices a scenario's load models (VUs, iterations, rates) into N exact shares
tail.py     reads workers' events.jsonl as it grows and replays it into a store
merge.py    merges run directories (workers or shards) into one summary
workers.py  `--workers N`: child processes, live merged thresholds, abort across workers
shards.py   `--shard I/N` and the flags the commands share
fastloop.py the event loop the CLI runs on (uvloop when available)
"""
