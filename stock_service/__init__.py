"""The low-latency stock service (the flash-sale notes, docs/background.md): reservations, stock pushes, no dagster."""
