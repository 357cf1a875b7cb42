"""Catalog throughput: SERP simulator over HTTP -> four assets -> PostgreSQL.

  hub bench catalog --products 100000 --baseline-products 10000

Reports products/s end to end and per stage, peak memory (RSS), the time of a
rerun with nothing changed, and the seed's way (the GlobalHub design's ImportProductsJob, docs/background.md: one
save and commit per product, 500 ms between pages of 100) on a smaller count.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import time
from datetime import datetime, timezone

import httpx
from dagster import DagsterInstance, materialize
from sqlalchemy import select

from bench.common import (
    DEFAULT_POSTGRES_URL,
    BenchSchema,
    child_pids,
    fresh_schema,
    machine_busy_seconds,
    postgres_cpu_seconds,
    process_cpu_seconds,
    process_peak_rss_mb,
    start_simulator,
    stop_simulator,
    write_results,
)
from commerce_core.catalog.enrichment import OfflineEnricher, enrichable_text
from commerce_core.catalog.models import product_uuid
from commerce_core.connectors import token_store
from commerce_core.catalog.serp_mapping import map_serp_record, validate_serp_record
from commerce_core.db.engine import get_engine
from commerce_core.db.migrate import upgrade
from commerce_core.db.schema import product_images, product_prices, product_translations, products
from hub_assets.catalog import CATALOG_ASSETS, NEXTENGINE_ASSETS, SHOPLINE_ASSETS
from resources import (
    CatalogDatabase,
    EnricherResource,
    NextEngineResource,
    SerpSupplierResource,
    ShoplineResource,
)

STAGES = ["serp_products", "validated_products", "enriched_products", "central_catalog"]
API_KEY = "bench-key"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--baseline-products", type=int, default=10_000,
                        help="products for the seed-style baseline (0 skips it)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL,
                        help="server to benchmark on; a fresh schema is created and dropped")
    parser.add_argument("--keep-schema", action="store_true")
    parser.add_argument("--shopline-products", type=int, default=0,
                        help="also import this many Shopline products (its simulator, GraphQL) and compare (0 skips)")
    parser.add_argument("--nextengine-products", type=int, default=0,
                        help="also import this many Next Engine goods (its simulator, rotating tokens) and compare "
                        "products/s per source (0 skips it)")


def _start_simulator(products: int) -> tuple[subprocess.Popen, str]:
    return start_simulator("simulators.serp_supplier", "--products", str(products), "--api-key", API_KEY,
                           "--seed", "2026", "--warm-cache")


def _run_pipeline(database_url: str, serp_url: str, instance: DagsterInstance, simulator_pid: int) -> dict:
    before = _cpu_by_process(simulator_pid)
    run = _timed_materialize(CATALOG_ASSETS, {
        "catalog_db": CatalogDatabase(database_url=database_url, apply_migrations=False),
        "serp": SerpSupplierResource(base_url=serp_url, api_key=API_KEY, requests_per_second=0),
        "enricher": EnricherResource(),
    }, {"ops": {"serp_products": {"config": {"mode": "full"}}}}, instance)
    after = _cpu_by_process(simulator_pid)
    run["cpu_seconds"] = {part: round(after[part] - before.get(part, 0.0), 1) for part in after}
    return run


def _cpu_by_process(simulator_pid: int) -> dict[str, float]:
    """CPU seconds so far of the pipeline process, its worker processes, PostgreSQL, the simulator, the machine."""
    times = os.times()
    return {
        "pipeline": times.user + times.system,
        "workers": sum(process_cpu_seconds(pid) for pid in child_pids(exclude=simulator_pid)),
        "postgresql": postgres_cpu_seconds(),
        "simulator": process_cpu_seconds(simulator_pid),
        "machine": machine_busy_seconds(),
    }


def _print_cpu(cpu: dict[str, float]) -> None:
    print(f"[bench]   CPU seconds: pipeline {cpu['pipeline']}, workers {cpu['workers']}, "
          f"PostgreSQL {cpu['postgresql']}, simulator {cpu['simulator']} (whole machine {cpu['machine']})", flush=True)


def _run_nextengine(database_url: str, count: int, instance: DagsterInstance) -> dict:
    """Next Engine goods through the same stages: its simulator in its own process, tokens rotating."""
    process, url = start_simulator("simulators.nextengine", "--products", str(count), "--orders", "10")
    try:
        tokens = httpx.get(f"{url}/_sim/tokens", timeout=10).json()
        with get_engine(database_url).begin() as conn:
            token_store.authorise(conn, "nextengine", "bench-shop",
                                  token_store.TokenPair(tokens["access_token"], tokens["refresh_token"]))
        return _timed_materialize([*NEXTENGINE_ASSETS, *CATALOG_ASSETS[1:]], {
            "catalog_db": CatalogDatabase(database_url=database_url, apply_migrations=False),
            "nextengine": NextEngineResource(base_url=url, store_account="bench-shop", page_size=1000),
            "enricher": EnricherResource(),
        }, None, instance)
    finally:
        stop_simulator(process)


def _run_shopline(database_url: str, count: int, instance: DagsterInstance) -> dict:
    """Shopline products (GraphQL pages of 250) through the same stages; its simulator in its own process."""
    process, url = start_simulator("simulators.shopline", "--products", str(count), "--orders", "10",
                                   "--access-token", "bench-token")
    try:
        return _timed_materialize([*SHOPLINE_ASSETS, *CATALOG_ASSETS[1:]], {
            "catalog_db": CatalogDatabase(database_url=database_url, apply_migrations=False),
            "shopline": ShoplineResource(base_url=url, access_token="bench-token"),
            "enricher": EnricherResource(),
        }, None, instance)
    finally:
        stop_simulator(process)


def _timed_materialize(assets: list, resources: dict, run_config: dict | None, instance: DagsterInstance) -> dict:
    started = time.perf_counter()
    result = materialize(assets, resources=resources, run_config=run_config, instance=instance)
    wall = time.perf_counter() - started
    stages = {}
    for event in result.get_asset_materialization_events():
        metadata = event.materialization.metadata
        stages[event.asset_key.path[-1]] = {
            "seconds": metadata["duration_seconds"].value,
            "rows": metadata["dagster/row_count"].value,
        }
    return {"wall_seconds": round(wall, 3), "stages": stages}


def _seed_style_import(database_url: str, serp_url: str, count: int) -> dict:
    """The GlobalHub design's ImportProductsJob (docs/background.md), faithfully slow: pages of 100,
    500 ms apart, one commit per product."""
    engine = get_engine(database_url)
    enricher = OfflineEnricher()
    client = httpx.Client(base_url=serp_url, headers={"X-Api-Key": API_KEY})
    saved, page = 0, 1
    started = time.perf_counter()
    while saved < count:
        body = client.get("/v1/products", params={"page": page, "pageSize": 100}).json()
        for record in body["products"]:
            if saved >= count:
                break
            if validate_serp_record(record):
                continue
            mapped = map_serp_record(record)
            product = {**mapped, **enricher.enrich(enrichable_text(mapped))}
            product_id = product_uuid("SERP-BASELINE", product["externalId"])
            now = datetime.now(timezone.utc)
            with engine.begin() as conn:  # SaveChangesAsync per product
                existing = conn.execute(select(products.c.id).where(products.c.id == product_id)).scalar()
                values = dict(
                    supplier_id="SERP-BASELINE", external_product_id=product["externalId"], name=product["name"],
                    description=product["description"], enriched_description=product["enrichedDescription"],
                    language=product["language"], product_type=product["productType"],
                    category=product["category"], available_seats=product["availableSeats"],
                    status=product["status"], is_active=product["isActive"], tags=product["tags"],
                    missing_languages=product["missingLanguages"], content_hash="-", updated_at=now,
                )
                if existing is None:
                    conn.execute(products.insert().values(id=product_id, created_at=now, **values))
                else:
                    conn.execute(products.update().where(products.c.id == product_id).values(**values))
                for child in (product_translations, product_prices, product_images):
                    conn.execute(child.delete().where(child.c.product_id == product_id))
                for language, text in product["catalogTranslations"].items():
                    conn.execute(product_translations.insert().values(
                        product_id=product_id, language_code=language, name=text["name"],
                        description=text["description"], source=text["source"]))
                for position, price in enumerate(product["prices"]):
                    conn.execute(product_prices.insert().values(
                        product_id=product_id, position=position, amount=price["amount"],
                        currency=price["currency"], price_type=price["priceType"]))
                for position, image in enumerate(product["images"]):
                    conn.execute(product_images.insert().values(
                        product_id=product_id, position=position, url=image["url"], is_primary=image["isPrimary"],
                        sort_order=image["order"]))
            saved += 1
        if not body["hasNextPage"]:
            break
        page += 1
        time.sleep(0.5)  # "避免過度請求 SERP API"
    client.close()
    seconds = time.perf_counter() - started
    return {"products": saved, "seconds": round(seconds, 2), "products_per_second": round(saved / seconds, 1)}


def run(args: argparse.Namespace) -> int:
    report: dict = {"products": args.products, "started_at": datetime.now(timezone.utc).isoformat()}
    with fresh_schema(args.postgres_url, keep=args.keep_schema) as bench_schema:
        _run_in(bench_schema, args, report)
    write_results("catalog", report)
    return 0


def _run_in(bench_schema: BenchSchema, args: argparse.Namespace, report: dict) -> None:
    schema, database_url = bench_schema.name, bench_schema.database_url
    simulator, serp_url = _start_simulator(max(args.products, args.baseline_products))
    try:
        upgrade(database_url)
        instance = DagsterInstance.ephemeral()
        print(f"[bench] first import of {args.products:,} products into PostgreSQL schema {schema} ...", flush=True)
        first = _run_pipeline(database_url, serp_url, instance, simulator.pid)
        report["first_import"] = first
        report["end_to_end_products_per_second"] = round(args.products / first["wall_seconds"], 1)
        print(f"[bench]   {first['wall_seconds']:.2f}s  ({report['end_to_end_products_per_second']:,.0f} products/s)")
        for stage in STAGES:
            seconds = first["stages"][stage]["seconds"]
            print(f"[bench]     {stage:<20} {seconds:7.2f}s  {args.products / seconds:10,.0f} products/s")
        _print_cpu(first["cpu_seconds"])
        print("[bench] rerun with nothing changed ...", flush=True)
        report["unchanged_rerun"] = _run_pipeline(database_url, serp_url, instance, simulator.pid)
        print(f"[bench]   {report['unchanged_rerun']['wall_seconds']:.2f}s")
        _print_cpu(report["unchanged_rerun"]["cpu_seconds"])
        if args.nextengine_products:
            print(f"[bench] Next Engine: {args.nextengine_products:,} goods through the same stages ...", flush=True)
            nextengine = _run_nextengine(database_url, args.nextengine_products, instance)
            rate = args.nextengine_products / nextengine["wall_seconds"]
            report["nextengine"] = {**nextengine, "products_per_second": round(rate, 1),
                                    "vs_serp": round(rate / report["end_to_end_products_per_second"], 2)}
            print(f"[bench]   {nextengine['wall_seconds']:.2f}s  ({rate:,.0f} goods/s, "
                  f"{report['nextengine']['vs_serp']:.0%} of the SERP path's rate)", flush=True)
        if args.shopline_products:
            print(f"[bench] Shopline: {args.shopline_products:,} products through the same stages ...", flush=True)
            shopline = _run_shopline(database_url, args.shopline_products, instance)
            rate = args.shopline_products / shopline["wall_seconds"]
            report["shopline"] = {**shopline, "products_per_second": round(rate, 1),
                                  "vs_serp": round(rate / report["end_to_end_products_per_second"], 2)}
            print(f"[bench]   {shopline['wall_seconds']:.2f}s  ({rate:,.0f} products/s, "
                  f"{report['shopline']['vs_serp']:.0%} of the SERP path's rate)", flush=True)
        report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        report["worker_peak_rss_mb"] = sorted(round(peak, 1) for pid in child_pids(exclude=simulator.pid)
                                              if (peak := process_peak_rss_mb(pid)) is not None)
        print(f"[bench] peak memory (RSS) of the pipeline process: {report['peak_rss_mb']:.0f} MB; "
              f"of its worker processes: {', '.join(f'{mb:.0f} MB' for mb in report['worker_peak_rss_mb']) or '-'}")
        if args.baseline_products:
            print(f"[bench] seed-style baseline on {args.baseline_products:,} products "
                  "(commit per product, 500 ms between pages of 100) ...", flush=True)
            baseline = _seed_style_import(database_url, serp_url, args.baseline_products)
            report["seed_style_baseline"] = baseline
            report["speedup_vs_seed_style"] = round(
                report["end_to_end_products_per_second"] / baseline["products_per_second"], 1)
            print(f"[bench]   {baseline['seconds']:.1f}s ({baseline['products_per_second']:,.0f} products/s); "
                  f"this pipeline is {report['speedup_vs_seed_style']}x faster")
    finally:
        stop_simulator(simulator)
