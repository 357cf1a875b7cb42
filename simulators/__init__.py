"""Local simulators of the external systems, following docs/protocols/."""
