"""Runnable benchmarks for Knoten; `python -m bench [name ...]` prints their figures."""
