"""Regional distribution throughput: N changed products -> TW, US and JP simulators.

  hub bench regions --products 100000 --baseline-products 10000

The central catalog in a fresh PostgreSQL schema is filled directly (this
benchmark measures distribution, not import), three region simulators run as
their own processes, and each region's partition of regional_snapshots runs in
its own process, as Dagster's run launcher would start them. Reports
product-pushes/s, batches/s and HTTP calls, checks that every product arrived
at every region exactly once, and runs the GlobalHub design's way (docs/background.md; one batch at a time,
200 ms between batches) on a smaller count for the ratio.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import httpx

from bench.common import (
    DEFAULT_POSTGRES_URL,
    RESULTS_DIR,
    BenchSchema,
    fresh_schema,
    machine_busy_seconds,
    process_cpu_seconds,
    start_simulator,
    stop_simulator,
    write_results,
)
from commerce_core.db.bulk import insert_rows, refresh_statistics
from commerce_core.db.engine import get_engine
from commerce_core.db.migrate import upgrade
from commerce_core.db.schema import product_images, product_prices, product_translations, products
from commerce_core.http.resilience import ResilientHttpClient, RetrySettings
from commerce_core.regions.central_products import iter_due_products
from commerce_core.regions.client import HttpRegionProductsClient
from commerce_core.regions.config import load_regions, local_api_key
from commerce_core.regions.regional_product import iso_utc, to_regional_product

REGIONS = ("TW", "US", "JP")
STRATEGIES = {"TW": "CentralWins", "US": "CentralWins", "JP": "SmartMerge"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--baseline-products", type=int, default=10_000, help="0 skips the seed-style baseline")
    parser.add_argument("--concurrency", type=int, default=8, help="batches in flight per region")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--keep-schema", action="store_true")


def _seed_catalog(database_url: str, count: int) -> None:
    """Published products with two translations, a TWD and a USD price and two images each."""
    now = datetime.now(timezone.utc)
    engine = get_engine(database_url)
    for start in range(0, count, 10_000):
        rows, translations, prices, images = [], [], [], []
        for n in range(start, min(count, start + 10_000)):
            product_id = uuid.uuid5(uuid.NAMESPACE_URL, f"bench:{n}")
            stamp = now - timedelta(seconds=count - n)
            rows.append({
                "id": product_id, "supplier_id": "SERP", "external_product_id": f"SERP-{n:07d}",
                "name": f"Taipei night market food tour {n}", "description": "Walk the night market with a guide.",
                "enriched_description": "Walk the night market with a guide.", "language": "en-US",
                "product_type": "Tour", "category": "Food", "available_seats": n % 40, "status": "Published",
                "is_active": True, "tags": ["food"], "missing_languages": ["ja-JP"], "content_hash": f"{n:032x}",
                "source_updated_at": stamp, "created_at": stamp, "updated_at": stamp, "archived_at": None,
                "created_by": "bench", "updated_by": "bench",
            })
            translations += [
                {"product_id": product_id, "language_code": "en-US", "name": f"Taipei night market food tour {n}",
                 "description": "Walk the night market with a local guide. Includes tastings.", "source": "original"},
                {"product_id": product_id, "language_code": "zh-TW", "name": f"台北夜市美食之旅 {n}",
                 "description": "跟著在地導遊逛夜市，含試吃。", "source": "supplier"},
            ]
            prices += [
                {"product_id": product_id, "position": 0, "amount": Decimal(1000 + n % 500), "currency": "TWD",
                 "price_type": "Base"},
                {"product_id": product_id, "position": 1, "amount": Decimal("33.50"), "currency": "USD",
                 "price_type": "Base"},
            ]
            images += [{"product_id": product_id, "position": i, "url": f"https://img.example/{n}/{i}.jpg",
                        "is_primary": i == 0, "sort_order": i} for i in range(2)]
        with engine.begin() as conn:
            insert_rows(conn, products, rows)
            insert_rows(conn, product_translations, translations)
            insert_rows(conn, product_prices, prices)
            insert_rows(conn, product_images, images)
        print(f"[bench]   central catalog: {min(count, start + 10_000):,} of {count:,} products", flush=True)
    with engine.begin() as conn:  # as central_catalog does after its bulk load
        refresh_statistics(conn, products, product_translations, product_prices, product_images)


def _start_region(code: str) -> tuple[subprocess.Popen, str]:
    return start_simulator("simulators.region_products", "--region", code)


def _regions_file(path: Path, urls: dict[str, str]) -> Path:
    default = load_regions(environ={})
    tables = []
    for region in default.enabled():
        tables.append(
            f'[regions.{region.code}]\nurl = "{urls[region.code]}"\npriority = {region.priority}\n'
            f'schedule = "{region.schedule}"\nlanguages = {json.dumps(list(region.languages))}\n'
            f"currencies = {json.dumps(list(region.currencies))}\n"
            f'conflict_strategy = "{STRATEGIES[region.code]}"\n'
        )
    fx = "\n".join(f'{currency} = "{rate}"' for currency, rate in default.fx.per_twd.items())
    path.write_text("\n".join(tables) + f"\n[fx.per_twd]\n{fx}\n", encoding="utf-8")
    return path


def _sync_partition(database_url: str, regions_file: str, code: str, concurrency: int, queue) -> None:
    """One region's run in its own process (spawned), like a Dagster run worker."""
    from dagster import DagsterInstance, materialize

    from hub_assets.regions import regional_snapshots
    from resources import CatalogDatabase, FxRatesResource, RegionsResource

    started = time.perf_counter()
    result = materialize(
        [regional_snapshots], partition_key=code, instance=DagsterInstance.ephemeral(),
        resources={"catalog_db": CatalogDatabase(database_url=database_url, apply_migrations=False),
                   "regions": RegionsResource(regions_file=regions_file, concurrency=concurrency),
                   "fx": FxRatesResource()},
    )
    [event] = result.get_asset_materialization_events()
    metadata = {key: value.value for key, value in event.materialization.metadata.items()
                if isinstance(value.value, (int, float, str))}
    t = os.times()
    metadata["process_cpu_seconds"] = round(t.user + t.system, 2)
    queue.put((code, round(time.perf_counter() - started, 2), metadata))


def _seed_style(database_url: str, url: str, code: str, count: int) -> dict:
    """The GlobalHub design's SyncToRegion (docs/background.md): one batch of 50 at a time, 200 ms pause after each."""
    regions = load_regions(environ={})
    region = regions.get(code)
    client = HttpRegionProductsClient(ResilientHttpClient(
        url, headers={"X-Api-Key": local_api_key(code), "X-Source": "GlobalHub"}, retry=RetrySettings()))
    sent, started = 0, time.perf_counter()
    stamp = iso_utc(datetime.now(timezone.utc))
    for chunk in iter_due_products(get_engine(database_url), "SEED-STYLE", chunk_size=2000):
        for start in range(0, len(chunk), 50):
            if sent >= count:
                break
            batch = chunk[start : start + 50]
            client.sync_products([to_regional_product(p, region, regions.fx, stamp).dto for p in batch], stamp)
            sent += len(batch)
            time.sleep(0.2)  # "避免壓垮區域 API"
        if sent >= count:
            break
    client.close()
    seconds = time.perf_counter() - started
    return {"products": sent, "seconds": round(seconds, 2), "products_per_second": round(sent / seconds, 1)}


def run(args: argparse.Namespace) -> int:
    report: dict = {"products": args.products, "started_at": datetime.now(timezone.utc).isoformat()}
    with fresh_schema(args.postgres_url, keep=args.keep_schema) as bench_schema:
        _run_in(bench_schema, args, report)
    write_results("regions", report)
    return 0


def _run_in(bench_schema: BenchSchema, args: argparse.Namespace, report: dict) -> None:
    schema, database_url = bench_schema.name, bench_schema.database_url
    simulators = {code: _start_region(code) for code in REGIONS}
    try:
        upgrade(database_url)
        print(f"[bench] filling the central catalog with {args.products:,} products ...", flush=True)
        _seed_catalog(database_url, args.products)
        regions_file = _regions_file(RESULTS_DIR.parent / f".regions-{schema}.toml",
                                     {code: url for code, (_, url) in simulators.items()})
        print("[bench] syncing TW, US and JP at once (one process per region run) ...", flush=True)
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        simulator_cpu_before = {code: process_cpu_seconds(process.pid) for code, (process, _) in simulators.items()}
        busy_before = machine_busy_seconds()
        started = time.perf_counter()
        workers = [context.Process(target=_sync_partition,
                                   args=(database_url, str(regions_file), code, args.concurrency, queue))
                   for code in REGIONS]
        for worker in workers:
            worker.start()
        runs = {}
        for _ in workers:
            code, seconds, metadata = queue.get(timeout=1800)
            runs[code] = {"seconds": seconds, **metadata}
            print(f"[bench]   {code} done in {seconds:.1f}s: {metadata['created']:,} created, "
                  f"{metadata['failed']:,} failed, {metadata['http_calls']:,} calls", flush=True)
        wall = time.perf_counter() - started
        for worker in workers:
            worker.join()
        stats = {code: httpx.get(f"{url}/_sim/stats", timeout=30).json() for code, (_, url) in simulators.items()}
        busy_after = machine_busy_seconds()
        simulator_cpu = {code: round(process_cpu_seconds(process.pid) - simulator_cpu_before[code], 2)
                         for code, (process, _) in simulators.items()}
        pushes = sum(s["receives"] for s in stats.values())
        sync_calls = sum(s["calls"]["sync"] for s in stats.values())
        all_calls = sum(sum(s["calls"].values()) for s in stats.values())
        exactly_once = all(s["products"] == args.products and s["receives"] == args.products for s in stats.values())
        report.update(
            wall_seconds=round(wall, 2), product_pushes=pushes,
            product_pushes_per_second=round(pushes / wall, 1), batches_per_second=round(sync_calls / wall, 1),
            http_calls=all_calls, sync_calls=sync_calls, every_product_exactly_once=exactly_once, runs=runs,
            cpu_seconds={"machine": round(busy_after - busy_before, 1),
                         "region_runs": round(sum(r["process_cpu_seconds"] for r in runs.values()), 1),
                         "simulators": round(sum(simulator_cpu.values()), 1)},
        )
        print(f"[bench] all three regions: {wall:.1f}s, {pushes:,} product-pushes "
              f"({pushes / wall:,.0f}/s), {sync_calls / wall:,.0f} batches/s, {all_calls:,} HTTP calls; "
              f"every product exactly once at every region: {exactly_once}", flush=True)
        cpu = report["cpu_seconds"]
        print(f"[bench] CPU seconds: machine {cpu['machine']}, region runs {cpu['region_runs']}, "
              f"simulators {cpu['simulators']}, rest (PostgreSQL, OS) "
              f"{cpu['machine'] - cpu['region_runs'] - cpu['simulators']:.1f}", flush=True)
        regions_file.unlink()
        if args.baseline_products:
            print(f"[bench] seed-style baseline: {args.baseline_products:,} products to TW, one batch at a time, "
                  "200 ms apart ...", flush=True)
            _, tw_url = simulators["TW"]
            baseline = _seed_style(database_url, tw_url, "TW", args.baseline_products)
            report["seed_style_baseline"] = baseline
            report["speedup_vs_seed_style"] = round(report["product_pushes_per_second"]
                                                    / baseline["products_per_second"], 1)
            print(f"[bench]   {baseline['seconds']:.1f}s ({baseline['products_per_second']:,.0f} products/s); "
                  f"this is {report['speedup_vs_seed_style']}x faster", flush=True)
    finally:
        for process, _ in simulators.values():
            stop_simulator(process)
