"""Environment configuration (docs/configuration.md), read when a process or run starts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

LOCAL_SERP_URL = "http://127.0.0.1:8101"
LOCAL_SERP_API_KEY = "serp-local-key"
LOCAL_NEXTENGINE_URL = "http://127.0.0.1:8121"
LOCAL_NEXTENGINE_STORE = "hub-local-store"
LOCAL_SHOPLINE_URL = "http://127.0.0.1:8131"
LOCAL_SHOPLINE_TOKEN = "shopline-local-token"


class ConfigurationError(RuntimeError):
    """A required setting is missing or unsafe for the environment."""


def _env(name: str, default: str = "") -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def env_number(name: str, default: float) -> float:
    """A numeric variable, or `default` when unset; a clear error when it is not a number."""
    raw = _env(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    env: str
    data_dir: Path
    database_url: str
    redis_url: str
    serp_base_url: str
    serp_api_key: str
    llm_base_url: str
    llm_api_key: str
    llm_model: str
    notify_webhook_url: str
    max_reject_rate: float
    nextengine_base_url: str
    nextengine_store_account: str
    shopline_base_url: str
    shopline_access_token: str
    turnkey_root: Path

    @property
    def uploads_dir(self) -> Path:
        """Tenants drop files in <BAN>/invoices/*.csv and <BAN>/e0501/*.xml here."""
        return self.data_dir / "uploads"

    @property
    def archive_dir(self) -> Path:
        return self.data_dir / "archive"

    @property
    def is_prod(self) -> bool:
        return self.env == "prod"


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'catalog.sqlite3').resolve()}"


def load_settings() -> Settings:
    """Read the environment now (not at import), so each run sees the current values."""
    env = _env("HUB_ENV", "local")
    if env not in ("local", "prod"):
        raise ConfigurationError(f"HUB_ENV must be 'local' or 'prod', got {env!r}")
    data_dir = Path(_env("HUB_DATA_DIR", "./.hub"))
    settings = Settings(
        env=env,
        data_dir=data_dir,
        database_url=_env("HUB_DATABASE_URL", default_database_url(data_dir)),
        redis_url=_env("HUB_REDIS_URL"),
        serp_base_url=_env("SERP_BASE_URL", LOCAL_SERP_URL),
        serp_api_key=_env("SERP_API_KEY", LOCAL_SERP_API_KEY),
        llm_base_url=_env("HUB_LLM_BASE_URL"),
        llm_api_key=_env("HUB_LLM_API_KEY"),
        llm_model=_env("HUB_LLM_MODEL"),
        notify_webhook_url=_env("HUB_NOTIFY_WEBHOOK_URL"),
        max_reject_rate=env_number("HUB_MAX_REJECT_RATE", 0.05),
        nextengine_base_url=_env("NEXTENGINE_BASE_URL", LOCAL_NEXTENGINE_URL),
        nextengine_store_account=_env("NEXTENGINE_STORE_ACCOUNT", LOCAL_NEXTENGINE_STORE),
        shopline_base_url=_env("SHOPLINE_BASE_URL", LOCAL_SHOPLINE_URL),
        shopline_access_token=_env("SHOPLINE_ACCESS_TOKEN", LOCAL_SHOPLINE_TOKEN),
        turnkey_root=Path(_env("TURNKEY_ROOT", str(data_dir / "turnkey"))),
    )
    if settings.is_prod:
        _refuse_local_defaults(settings)
    return settings


def _refuse_local_defaults(settings: Settings) -> None:
    problems = []
    if settings.database_url.startswith("sqlite"):
        problems.append("HUB_DATABASE_URL must point at PostgreSQL in prod")
    if not os.environ.get("SERP_API_KEY") or settings.serp_api_key == LOCAL_SERP_API_KEY:
        problems.append("SERP_API_KEY must be set to the real key in prod")
    if problems:
        raise ConfigurationError("; ".join(problems))
