"""Benchmarks (not shipped in the package): ``python -m bench.<name>`` writes its section of
docs/benchmarks.md. ``make bench`` runs the catalog search benchmark (bench/search.py)."""
