"""Multi-platform connectors (seeds/002): Shopline and Next Engine."""
