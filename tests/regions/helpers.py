"""Regional sites for tests: three region simulators on free ports and a regions file pointing at them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx
from dagster import DagsterInstance, materialize

from commerce_core.regions.config import local_api_key
from hub_assets.regions import regional_snapshots
from jobs.region_jobs import dead_letter_retry
from resources import CatalogDatabase, FxRatesResource, NotifierResource, RegionsResource
from simulators.asgi_server import ServedApp
from simulators.region_products import REGION_DEFAULTS, RegionFaults, RegionStore, create_app

SCHEDULES = {"TW": "*/30 * * * *", "US": "0 3 * * *", "JP": "0 4 * * *"}


@dataclass
class RegionSites:
    file: Path
    served: dict[str, ServedApp] = field(default_factory=dict)

    def store(self, code: str) -> RegionStore:
        return self.served[code].app.state.store

    def faults(self, code: str) -> RegionFaults:
        return self.served[code].app.state.faults

    def stats(self, code: str) -> dict:
        return httpx.get(f"{self.served[code].url}/_sim/stats").json()


def start_sites(tmp_path: Path, strategies: dict[str, str] | None = None) -> RegionSites:
    strategies = strategies or {}
    sites = RegionSites(file=tmp_path / "regions.toml")
    tables = []
    for priority, (code, spec) in enumerate(REGION_DEFAULTS.items(), start=1):
        served = ServedApp(create_app(spec, api_key=local_api_key(code))).start()
        sites.served[code] = served
        tables.append(
            f'[regions.{code}]\nurl = "{served.url}"\npriority = {priority}\nschedule = "{SCHEDULES[code]}"\n'
            f"languages = {list(spec.languages)!r}\ncurrencies = {list(spec.currencies)!r}\n".replace("'", '"')
            + f'conflict_strategy = "{strategies.get(code, "CentralWins")}"\n'
        )
    sites.file.write_text("\n".join(tables) + '\n[fx.per_twd]\nTWD = "1"\nUSD = "0.0317"\nJPY = "4.70"\n',
                          encoding="utf-8")
    return sites


def region_resources(database_url: str, sites: RegionSites, *, concurrency: int = 4, max_attempts: int = 2,
                     notify_url: str | None = None) -> dict:
    return {
        "catalog_db": CatalogDatabase(database_url=database_url),
        "regions": RegionsResource(regions_file=str(sites.file), concurrency=concurrency, max_attempts=max_attempts,
                                   backoff_seconds=0.01, timeout_seconds=5),
        "fx": FxRatesResource(),
        "notifier": NotifierResource(webhook_url=notify_url),
    }


def sync_region(database_url: str, sites: RegionSites, code: str, *, resend_all: bool = False,
                product_ids: list[str] | None = None, raise_on_error: bool = True, **resource_options):
    config = {"resend_all": resend_all, "product_ids": product_ids or []}
    return materialize(
        [regional_snapshots],
        partition_key=code,
        resources=region_resources(database_url, sites, **resource_options),
        run_config={"ops": {"regional_snapshots": {"config": config}}},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=raise_on_error,
    )


def retry_dead_letters(database_url: str, sites: RegionSites, **resource_options):
    return dead_letter_retry.execute_in_process(
        resources=region_resources(database_url, sites, **resource_options),
        instance=DagsterInstance.ephemeral(),
    )


def sync_metadata(result) -> dict:
    [event] = result.get_asset_materialization_events()
    return {key: value.value for key, value in event.materialization.metadata.items()}
