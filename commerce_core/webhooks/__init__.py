"""Webhook ingress: verification and the inbox (docs/background.md: the GlobalHub design's Webhook 即時推送,
the connector design's webhook handlers)."""
