"""Sensors that turn recorded events (stock ledger, webhook inbox) into targeted runs."""
