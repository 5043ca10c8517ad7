"""Reports of a run. summary.py computes (from the store and threshold results) one plain dict,
the schema of docs/summary-schema.md; terminal.py, markdown.py and junit.py only format it."""
