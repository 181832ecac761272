"""Benchmarks: scripts that print ratios against a baseline measured in the same process.

Run one with `python -m bench.bench_database`, or all with `make bench` (`python -m bench`).
Figures are recorded in docs/benchmarks.md. Never a pass/fail threshold in a unit test.
"""
