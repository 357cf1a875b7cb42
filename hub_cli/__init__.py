"""The `hub` command: what people run (demo, simulators, benchmarks, migrations)."""
