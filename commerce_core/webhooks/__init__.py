"""Webhook ingress (seeds/000 Webhook 即時推送, seeds/002 webhook handlers): verification and the inbox."""
