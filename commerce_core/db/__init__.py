"""Catalog database: schema, engine, bulk writes and migrations."""
