"""Sensors that turn recorded events into targeted runs (webhooks and stock pushes arrive in issue 6)."""
