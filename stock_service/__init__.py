"""The low-latency stock service (seeds/004): reservations, stock pushes, no dagster."""
