"""Sensors that turn recorded events into targeted runs (stock events now; webhooks arrive in issue 6)."""
