"""`hub demo`: the whole system on one machine — migrations, simulators, `dagster dev`.

Simulators start for the SERP supplier and for every enabled region whose
REGION_<CODE>_URL is not set (a set URL means a real or separately run site);
the stock service starts beside them (database-only unless HUB_REDIS_URL is set)
and receives the Next Engine simulator's stock pushes,
and a Turnkey gateway simulator watches TURNKEY_ROOT. A demo e-invoicing tenant
gets a number range and today's invoice upload in its folder, so the invoice
sensors have something to issue.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

from commerce_core.db.migrate import upgrade
from commerce_core.regions.config import RegionConfig, load_regions
from commerce_core.settings import LOCAL_NEXTENGINE_STORE, LOCAL_SERP_API_KEY, load_settings
from hub_cli.demo_check import run_check
from hub_cli.processes import ChildProcesses
from stock_service.settings import LOCAL_SHOPLINE_APP_SECRET

REPO = Path(__file__).resolve().parent.parent


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=3000, help="Dagster UI port")
    parser.add_argument("--serp-port", type=int, default=8101, help="SERP simulator port; 0 = a free port")
    parser.add_argument("--products", type=int, default=2000, help="products the SERP simulator serves")
    parser.add_argument("--invalid-rate", type=float, default=0.01, help="share of invalid supplier records")
    parser.add_argument("--stock-port", type=int, default=8000, help="stock service port; 0 = a free port")
    parser.add_argument("--nextengine-port", type=int, default=8121, help="Next Engine simulator; 0 = a free port")
    parser.add_argument("--shopline-port", type=int, default=8131, help="Shopline simulator; 0 = a free port")
    parser.add_argument("--region-port-base", type=int, default=8111,
                        help="first port of the region simulators (TW, US, JP in priority order); 0 = free ports")
    parser.add_argument("--check", action="store_true",
                        help="start everything, check two Next Engine stock pushes, run one full import and every "
                        "region's sync through Dagster, stop (for CI)")


def _wait_for(url: str, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit(f"{what} did not come up at {url} within {timeout:.0f}s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _simulated_regions(args: argparse.Namespace, env: dict[str, str]) -> dict[RegionConfig, int]:
    """Enabled regions without a configured URL -> the port of their simulator."""
    regions = [r for r in load_regions(environ=env).enabled() if not env.get(f"REGION_{r.code}_URL")]
    return {region: (_free_port() if args.region_port_base == 0 else args.region_port_base + offset)
            for offset, region in enumerate(regions)}


def _environment(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    data_dir = Path(env.get("HUB_DATA_DIR", REPO / ".hub")).resolve()
    dagster_home = Path(env.get("DAGSTER_HOME", data_dir / "dagster_home")).resolve()
    dagster_home.mkdir(parents=True, exist_ok=True)
    if not (dagster_home / "dagster.yaml").exists():
        shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    env.update(HUB_DATA_DIR=str(data_dir), DAGSTER_HOME=str(dagster_home))
    if args.serp_port == 0:
        args.serp_port = _free_port()
    env.setdefault("SERP_BASE_URL", f"http://127.0.0.1:{args.serp_port}")
    env.setdefault("SERP_API_KEY", LOCAL_SERP_API_KEY)
    return env


def run(args: argparse.Namespace) -> int:
    env = _environment(args)
    os.environ.update(env)
    settings = load_settings()
    database_url = settings.database_url
    print(f"[hub] catalog database: {database_url.split('@')[-1]}  (migrating)", flush=True)
    upgrade(database_url)
    log_dir = settings.data_dir / "logs"
    children = ChildProcesses(env, REPO, log_dir)

    def stop_on_signal(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop_on_signal)
    try:
        children.start("SERP supplier simulator", [
            sys.executable, "-m", "simulators.serp_supplier", "--port", str(args.serp_port),
            "--products", str(args.products), "--invalid-rate", str(args.invalid_rate),
        ], log_name="serp-simulator.log")
        regions = _simulated_regions(args, env)
        for region, port in regions.items():
            env[f"REGION_{region.code}_URL"] = f"http://127.0.0.1:{port}"
            children.start(f"{region.code} region simulator", [
                sys.executable, "-m", "simulators.region_products", "--region", region.code, "--port", str(port),
                "--languages", ",".join(region.languages), "--currencies", ",".join(region.currencies),
            ], log_name=f"region-{region.code}-simulator.log")
        stock_port = _free_port() if args.stock_port == 0 else args.stock_port
        simulated_nextengine = not os.environ.get("NEXTENGINE_BASE_URL")
        if simulated_nextengine:
            ne_port = _free_port() if args.nextengine_port == 0 else args.nextengine_port
            env["NEXTENGINE_BASE_URL"] = f"http://127.0.0.1:{ne_port}"
            # Its stock pushes go to the stock service; store account and key come from the environment
            # (NEXTENGINE_STORE_ACCOUNT, NEXTENGINE_AUTH_KEY) as the service's do, never from the command line.
            children.start("Next Engine simulator", [
                sys.executable, "-m", "simulators.nextengine", "--port", str(ne_port),
                "--push-url", f"http://127.0.0.1:{stock_port}/webhooks/nextengine/stock"],
                log_name="nextengine-simulator.log")
            _authorise_local_nextengine(database_url, env)
        if not os.environ.get("SHOPLINE_BASE_URL"):
            shopline_port = _free_port() if args.shopline_port == 0 else args.shopline_port
            env["SHOPLINE_BASE_URL"] = f"http://127.0.0.1:{shopline_port}"
            # Its admin-route changes arrive as webhooks at the stock service, signed with the service's secret:
            # SHOPLINE_APP_SECRET reaches both through the environment, never the command line.
            env["SHOPLINE_APP_SECRET"] = env.get("SHOPLINE_APP_SECRET", "").strip() or LOCAL_SHOPLINE_APP_SECRET
            children.start("Shopline simulator", [
                sys.executable, "-m", "simulators.shopline", "--port", str(shopline_port),
                "--webhook-url", f"http://127.0.0.1:{stock_port}/webhooks/shopline"], log_name="shopline-simulator.log")
        children.start("Turnkey simulator", [sys.executable, "-m", "simulators.turnkey", "--interval", "1"],
                       log_name="turnkey-simulator.log")
        seed_demo_invoices(settings)
        env["STOCK_SERVICE_URL"] = f"http://127.0.0.1:{stock_port}"
        children.start("stock service", [sys.executable, "-m", "stock_service", "--port", str(stock_port)],
                       log_name="stock-service.log")
        _wait_for(f"http://127.0.0.1:{args.serp_port}/_sim/stats", "SERP simulator")
        _wait_for(f"{env['STOCK_SERVICE_URL']}/health", "stock service")
        _wait_for(f"{env['NEXTENGINE_BASE_URL']}/_sim/stats", "Next Engine simulator")
        _wait_for(f"{env['SHOPLINE_BASE_URL']}/_sim/stats", "Shopline simulator")
        for region, port in regions.items():
            _wait_for(f"http://127.0.0.1:{port}/_sim/stats", f"{region.code} region simulator")
        if args.check:
            return run_check(env, [r.code for r in load_regions(environ=env).enabled()], database_url=database_url,
                             turnkey_root=settings.turnkey_root, expected_invoices=DEMO_INVOICES, log_dir=log_dir,
                             check_stock_pushes=simulated_nextengine)
        children.start("dagster dev", [
            sys.executable, "-m", "dagster", "dev", "-w", str(REPO / "workspace.yaml"), "-p", str(args.port),
        ])
        print(f"[hub] Dagster UI: http://127.0.0.1:{args.port}  (Ctrl-C stops everything)", flush=True)
        while (ended := children.exited()) is None:
            time.sleep(0.5)
        print(f"[hub] {ended} stopped on its own; stopping the rest (its log is in {log_dir})", flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a second Ctrl-C must not cut the stop short
            signal.signal(signum, signal.SIG_IGN)
        print("[hub] stopping every process started here", flush=True)
        children.stop()
        print("[hub] stopped", flush=True)


def _authorise_local_nextengine(database_url: str, env: dict[str, str]) -> None:
    """A fresh simulator starts from its default tokens: the local shop is authorised with them."""
    from commerce_core.connectors import token_store
    from commerce_core.connectors.nextengine import PLATFORM
    from commerce_core.db.engine import get_engine
    from simulators.nextengine import add_arguments as simulator_arguments

    defaults = argparse.ArgumentParser()
    simulator_arguments(defaults)
    tokens = defaults.parse_args([])
    shop = env.get("NEXTENGINE_STORE_ACCOUNT") or LOCAL_NEXTENGINE_STORE
    with get_engine(database_url).begin() as conn:
        token_store.authorise(conn, PLATFORM, shop,
                              token_store.TokenPair(tokens.access_token, tokens.refresh_token))


DEMO_TENANT = ("22099131", "Commerce Hub Demo Station", "Taipei City")
DEMO_INVOICES = 25


def seed_demo_invoices(settings) -> None:
    """Register the demo tenant once and drop its E0501 range and today's upload in its folder."""
    from commerce_core.db.engine import get_engine
    from commerce_core.einvoice.e0501 import AssignedRange, e0501_xml
    from commerce_core.einvoice.periods import period_of
    from commerce_core.einvoice.tenancy import add_tenant, tenant_by_ban
    from commerce_core.einvoice.uploads import REQUIRED_COLUMNS, TAIWAN

    ban, name, address = DEMO_TENANT
    with get_engine(settings.database_url).begin() as conn:
        if tenant_by_ban(conn, ban) is None:
            add_tenant(conn, ban, name, address)
    today = datetime.now(TAIWAN).date()
    folder = settings.uploads_dir / ban
    _drop(folder / "e0501" / f"{period_of(today)}-AB.xml",
          e0501_xml(AssignedRange(ban, "07", period_of(today), "AB", 10000000, 10000099, 2)))
    rows = [",".join(REQUIRED_COLUMNS)]
    rows += [f"{ban},DEMO-{today:%Y%m%d}-{i},{today},08:{i:02d}:00,,,3J0002,/DEMO{i:03d},0,,N,Gasoline 95,20,31.2,624,1"
             for i in range(DEMO_INVOICES - 1)]
    rows.append(f"{ban},DEMO-{today:%Y%m%d}-B2B,{today},09:00:00,53212539,Acme Logistics,,,0,,Y,Diesel,50,28,1400,1")
    _drop(folder / "invoices" / f"{today}.csv", ("\n".join(rows) + "\n").encode())
    print(f"[hub] e-invoicing: tenant {ban}, {DEMO_INVOICES} invoices for {today} in {folder}", flush=True)


def _drop(path: Path, data: bytes) -> None:
    """Write once (temp name, then rename), so a rerun of the demo keeps the file the sensor already saw."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}")
    temporary.write_bytes(data)
    os.replace(temporary, path)
