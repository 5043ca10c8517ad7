"""The failure drills' machinery: the drill file model (model.py), what a drill does to a running
stack (actions.py), one drill run end to end (runner.py), its seam with the generator's monitor
and diagnosis (diagnosis.py) and what the commands print (table.py). The drill files themselves
live in bench/drills/*.yaml and the runbooks in bench/runbooks/*.md (package data)."""
