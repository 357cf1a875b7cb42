"""Clients of the supplier and platform APIs (docs/protocols/), behind abstract interfaces."""
