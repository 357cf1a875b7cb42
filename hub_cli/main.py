"""`hub` — one entry point for the commands people run.

  hub demo                 migrate, start the simulators and `dagster dev` (embedded SQLite)
  hub db upgrade           apply migrations to HUB_DATABASE_URL
  hub serve stock ...      run the stock service (python -m stock_service)
  hub simulate serp ...    run the SERP supplier simulator
  hub simulate region ...  run one regional ProductsAPI simulator (--region TW|US|JP)
  hub simulate nextengine  run the Next Engine REST simulator (rotating tokens; stock pushes with --push-url)
  hub simulate shopline    run the Shopline REST + GraphQL simulator
  hub simulate turnkey     run the Turnkey gateway simulator on TURNKEY_ROOT
  hub einvoice ...         register e-invoicing tenants; number pools; the upload log
  hub bench catalog ...    the catalog benchmark (bench/catalog_bench.py)
  hub bench regions ...    the regional distribution benchmark (bench/regions_bench.py)
  hub bench stock ...      the stock service benchmark (bench/stock_bench.py)
  hub bench einvoice ...   the e-invoice peak-day benchmark (bench/einvoice_bench.py)
"""

from __future__ import annotations

import argparse
import sys


def _db_upgrade(args: argparse.Namespace) -> int:
    from commerce_core.db.migrate import current_revision, upgrade
    from commerce_core.settings import load_settings

    url = args.database_url or load_settings().database_url
    upgrade(url)
    print(f"catalog database at revision {current_revision(url)}")
    return 0


def _bench_catalog(args: argparse.Namespace) -> int:
    from bench import catalog_bench

    return catalog_bench.run(args)


def _serve_stock(args: argparse.Namespace) -> int:
    from stock_service.__main__ import main as serve

    serve(["--host", args.host, "--port", str(args.port), "--workers", str(args.workers)])
    return 0


def _bench_regions(args: argparse.Namespace) -> int:
    from bench import regions_bench

    return regions_bench.run(args)


def _bench_stock(args: argparse.Namespace) -> int:
    from bench import stock_bench

    return stock_bench.run(args)


def build_parser() -> argparse.ArgumentParser:
    # Imported here, not with the module: a worker process spawned by a `hub` command (the catalog
    # stages' pool) imports this module again as its __main__, and these cost ~0.6 s of CPU each time.
    from hub_cli import demo, einvoice_commands
    from simulators import nextengine, region_products, serp_supplier, shopline, turnkey

    parser = argparse.ArgumentParser(prog="hub", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    demo_parser = commands.add_parser("demo", help="run the whole system locally and open the Dagster UI")
    demo.add_arguments(demo_parser)
    demo_parser.set_defaults(handler=demo.run)

    db = commands.add_parser("db", help="catalog database").add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser("upgrade", help="apply migrations (default: HUB_DATABASE_URL)")
    upgrade.add_argument("--database-url", help="SQLAlchemy URL; default from HUB_DATABASE_URL")
    upgrade.set_defaults(handler=_db_upgrade)

    serve = commands.add_parser("serve", help="run a service of the system").add_subparsers(dest="service",
                                                                                          required=True)
    stock = serve.add_parser("stock", help="the low-latency stock service (HUB_DATABASE_URL, HUB_REDIS_URL)")
    stock.add_argument("--host", default="127.0.0.1")
    stock.add_argument("--port", type=int, default=8000)
    stock.add_argument("--workers", type=int, default=1)
    stock.set_defaults(handler=_serve_stock)

    simulate = commands.add_parser("simulate", help="run a simulator of an external system")
    simulators = simulate.add_subparsers(dest="simulator", required=True)
    serp = simulators.add_parser("serp", help="SERP supplier API (docs/protocols/serp-supplier.md)")
    serp_supplier.add_arguments(serp)
    serp.set_defaults(handler=lambda args: serp_supplier.run(args) or 0)
    region = simulators.add_parser("region", help="a regional ProductsAPI (docs/protocols/region-productsapi.md)")
    region_products.add_arguments(region)
    region.set_defaults(handler=lambda args: region_products.run(args) or 0)
    next_engine = simulators.add_parser("nextengine", help="Next Engine REST API (docs/protocols/nextengine.md)")
    nextengine.add_arguments(next_engine)
    next_engine.set_defaults(handler=lambda args: nextengine.run(args) or 0)
    shopline_store = simulators.add_parser("shopline", help="Shopline REST + GraphQL (docs/protocols/shopline.md)")
    shopline.add_arguments(shopline_store)
    shopline_store.set_defaults(handler=lambda args: shopline.run(args) or 0)
    turnkey_gateway = simulators.add_parser("turnkey", help="the MOF Turnkey gateway (docs/protocols/einvoice-turnkey.md)")
    turnkey.add_arguments(turnkey_gateway)
    turnkey_gateway.set_defaults(handler=lambda args: turnkey.run(args) or 0)
    einvoice_commands.add_commands(commands)

    bench = commands.add_parser("bench", help="benchmarks").add_subparsers(dest="bench", required=True)
    catalog = bench.add_parser("catalog", help="SERP -> central catalog throughput")
    from bench import catalog_bench

    catalog_bench.add_arguments(catalog)
    catalog.set_defaults(handler=_bench_catalog)
    regions = bench.add_parser("regions", help="central catalog -> TW, US, JP throughput")
    from bench import regions_bench

    regions_bench.add_arguments(regions)
    regions.set_defaults(handler=_bench_regions)
    stock = bench.add_parser("stock", help="stock service reservations and Next Engine pushes")
    from bench import stock_bench

    stock_bench.add_arguments(stock)
    stock.set_defaults(handler=_bench_stock)
    einvoice = bench.add_parser("einvoice", help="a peak day of invoices: CSV -> XSD-valid F0401 files")
    from bench import einvoice_bench

    einvoice_bench.add_arguments(einvoice)
    einvoice.set_defaults(handler=einvoice_bench.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
