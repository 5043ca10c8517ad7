"""Reports of a run. summary.py computes (from the store and threshold results) one `Summary`
(summary_model.py: frozen dataclasses whose JSON is docs/summary-schema.md); terminal.py,
markdown.py, junit.py and the html*.py modules only format it."""
