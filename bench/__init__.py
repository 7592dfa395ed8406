"""Benchmarks: each prints its figures against a baseline run in the same process (bench/README.md)."""
