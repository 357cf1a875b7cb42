"""Asset jobs: which assets run together, with what default config."""
