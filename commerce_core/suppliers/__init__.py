"""Clients of the supplier and platform APIs (contracts/), behind abstract interfaces."""
