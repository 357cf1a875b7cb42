"""Region configuration: a TOML file, with URLs and API keys from the environment.

The file lists every region (languages with the default first, currencies,
schedule, priority, conflict strategy, batch size); adding a region is a new
table in it, not code. REGION_<CODE>_URL and REGION_<CODE>_API_KEY override the
file and the local defaults; in prod a region without a key is refused.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from commerce_core.regions.conflicts import STRATEGIES
from commerce_core.regions.fx import MINOR_UNITS, FxRates
from commerce_core.settings import ConfigurationError

DEFAULT_REGIONS_FILE = Path(__file__).resolve().parents[2] / "config" / "regions.toml"
MAX_BATCH_SIZE = 50  # contract: at most 50 products per call


@dataclass(frozen=True)
class RegionConfig:
    code: str
    name: str
    base_url: str
    api_key: str
    enabled: bool
    priority: int
    schedule: str
    languages: tuple[str, ...]
    currencies: tuple[str, ...]
    conflict_strategy: str
    batch_size: int

    @property
    def default_language(self) -> str:
        return self.languages[0]


@dataclass(frozen=True)
class RegionsFile:
    regions: tuple[RegionConfig, ...]
    fx: FxRates

    def enabled(self) -> list[RegionConfig]:
        return sorted((r for r in self.regions if r.enabled), key=lambda r: (r.priority, r.code))

    def get(self, code: str) -> RegionConfig:
        for region in self.regions:
            if region.code == code:
                return region
        raise ConfigurationError(f"unknown region {code!r}; configured: {', '.join(r.code for r in self.regions)}")


def local_api_key(code: str) -> str:
    """The key the local simulator of a region accepts by default."""
    return f"region-{code.lower()}-local-key"


def regions_file_path() -> Path:
    return Path(os.environ.get("HUB_REGIONS_FILE", "").strip() or DEFAULT_REGIONS_FILE)


def load_regions(path: Path | None = None, environ: dict[str, str] | None = None) -> RegionsFile:
    path = path or regions_file_path()
    environ = os.environ if environ is None else environ
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"regions file {path} does not exist (HUB_REGIONS_FILE)") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"regions file {path}: {error}") from None
    tables = data.get("regions")
    if not isinstance(tables, dict) or not tables:
        raise ConfigurationError(f"regions file {path} has no [regions.<CODE>] tables")
    prod = environ.get("HUB_ENV", "local").strip() == "prod"
    regions = tuple(_region(path, code, table, environ, prod) for code, table in tables.items())
    return RegionsFile(regions=regions, fx=_fx(path, data.get("fx", {})))


def _region(path: Path, code: str, table: dict, environ, prod: bool) -> RegionConfig:
    where = f"{path} [regions.{code}]"
    if not code.isalnum() or not code.isupper():
        raise ConfigurationError(f"{where}: region code must be upper-case letters/digits")

    def field(name: str, kind: type, default=None):
        value = table.get(name, default)
        if value is None:
            raise ConfigurationError(f"{where}: {name} is required")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigurationError(f"{where}: {name} must be {kind.__name__}, got {value!r}")
        return value

    languages = tuple(field("languages", list))
    currencies = tuple(field("currencies", list))
    if not languages or not all(isinstance(x, str) and x for x in languages):
        raise ConfigurationError(f"{where}: languages must be a non-empty list of codes, default first")
    unknown = [c for c in currencies if c not in MINOR_UNITS]
    if not currencies or unknown:
        raise ConfigurationError(f"{where}: currencies must be a non-empty list of {', '.join(MINOR_UNITS)}; "
                                 f"unknown: {', '.join(map(str, unknown)) or '-'}")
    strategy = field("conflict_strategy", str, "CentralWins")
    if strategy not in STRATEGIES:
        raise ConfigurationError(f"{where}: conflict_strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    batch_size = field("batch_size", int, MAX_BATCH_SIZE)
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ConfigurationError(f"{where}: batch_size must be 1..{MAX_BATCH_SIZE}")
    api_key = environ.get(f"REGION_{code}_API_KEY", "").strip()
    if not api_key:
        if prod:
            raise ConfigurationError(f"REGION_{code}_API_KEY must be set in prod")
        api_key = local_api_key(code)
    return RegionConfig(
        code=code,
        name=field("name", str, code),
        base_url=(environ.get(f"REGION_{code}_URL", "").strip() or field("url", str)).rstrip("/"),
        api_key=api_key,
        enabled=field("enabled", bool, True),
        priority=field("priority", int, 100),
        schedule=field("schedule", str),
        languages=languages,
        currencies=currencies,
        conflict_strategy=strategy,
        batch_size=batch_size,
    )


def _fx(path: Path, table: dict) -> FxRates:
    raw = table.get("per_twd", {})
    try:
        rates = {currency: Decimal(str(rate)) for currency, rate in raw.items()}
    except InvalidOperation:
        raise ConfigurationError(f"{path} [fx.per_twd]: rates must be decimal strings") from None
    if not rates:
        raise ConfigurationError(f"{path}: [fx.per_twd] rates are required")
    try:
        return FxRates(rates)
    except ValueError as error:
        raise ConfigurationError(f"{path} [fx.per_twd]: {error}") from None
