"""Downstream distribution of the central catalog to the regional sites (GlobalHub design: 下游同步; docs/background.md)."""
