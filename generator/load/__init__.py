"""Load models (k6's executors): when and on which virtual user each iteration starts.

One module per model, each a frozen pydantic config plus its scheduler; base.py holds what they
share (the run handle, draining, injectable time); config.py picks a model by its `executor` name;
presets.py holds the named load levels of `callbench calls`.
"""
