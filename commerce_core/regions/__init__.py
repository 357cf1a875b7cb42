"""Downstream distribution of the central catalog to the regional sites (seeds/000 下游同步)."""
