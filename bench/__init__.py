"""Benchmarks, run on purpose (`hub bench ...`), never in the test suite."""
