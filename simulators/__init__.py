"""Local simulators of the external systems, following ../shared/contracts."""
