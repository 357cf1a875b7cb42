"""Service settings from the environment (docs/configuration.md), read at start."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from commerce_core.settings import ConfigurationError, env_number, load_settings

LOCAL_NEXTENGINE_KEY = "nextengine-local-key"
LOCAL_SERP_WEBHOOK_SECRET = "serp-webhook-local-secret"
LOCAL_SHOPLINE_APP_SECRET = "shopline-local-secret"


@dataclass(frozen=True)
class ServiceSettings:
    database_url: str
    redis_url: str
    hold: timedelta  # a reservation not confirmed within this returns to stock
    expiry_interval_seconds: float
    group_commit_max: int  # reservations decided in one transaction at most
    nextengine_keys: dict[str, str]  # store account -> authentication key
    serp_webhook_secret: str = LOCAL_SERP_WEBHOOK_SECRET
    shopline_app_secret: str = LOCAL_SHOPLINE_APP_SECRET


def load_service_settings() -> ServiceSettings:
    settings = load_settings()
    store = settings.nextengine_store_account
    key = os.environ.get("NEXTENGINE_AUTH_KEY", "").strip()
    if not key:
        if settings.is_prod:
            raise ConfigurationError("NEXTENGINE_AUTH_KEY must be set in prod")
        key = LOCAL_NEXTENGINE_KEY
    secrets = {}
    for name, local in (("SERP_WEBHOOK_SECRET", LOCAL_SERP_WEBHOOK_SECRET),
                        ("SHOPLINE_APP_SECRET", LOCAL_SHOPLINE_APP_SECRET)):
        secrets[name] = os.environ.get(name, "").strip()
        if not secrets[name]:
            if settings.is_prod:
                raise ConfigurationError(f"{name} must be set in prod")
            secrets[name] = local
    return ServiceSettings(
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        hold=timedelta(seconds=env_number("STOCK_HOLD_SECONDS", 900)),
        expiry_interval_seconds=env_number("STOCK_EXPIRY_INTERVAL_SECONDS", 5),
        group_commit_max=int(env_number("STOCK_GROUP_COMMIT_MAX", 256)),
        nextengine_keys={store: key},
        serp_webhook_secret=secrets["SERP_WEBHOOK_SECRET"],
        shopline_app_secret=secrets["SHOPLINE_APP_SECRET"],
    )
