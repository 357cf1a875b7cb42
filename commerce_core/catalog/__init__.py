"""The catalog domain: unified product model, supplier mapping, enrichment, central upsert."""
