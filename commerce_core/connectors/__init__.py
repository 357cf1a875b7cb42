"""Multi-platform connectors (the connector design, docs/background.md): Shopline and Next Engine."""
