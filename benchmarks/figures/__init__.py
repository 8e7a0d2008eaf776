"""The figures of ``benchmarks/run.py``: one module each, plus what they share."""
