"""The README's run command, headless: migrations, the simulators, Next Engine stock pushes to the stock
service, a full import, every region's sync and today's invoice batch through Turnkey via Dagster's CLI."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_check_imports_the_catalog_syncs_every_region_and_pushes_stock(tmp_path):
    secret = "serp-demo-secret-7f3a"
    shopline_secret = "shopline-demo-secret-2b9e"
    env = {**os.environ, "HUB_DATA_DIR": str(tmp_path / "hub"), "SERP_API_KEY": secret,
           "SHOPLINE_APP_SECRET": shopline_secret}
    env.pop("HUB_DATABASE_URL", None)
    env.pop("DAGSTER_HOME", None)
    for name in ("SERP_BASE_URL", "REGION_TW_URL", "REGION_US_URL", "REGION_JP_URL", "HUB_REDIS_URL",
                 "NEXTENGINE_BASE_URL", "NEXTENGINE_STORE_ACCOUNT", "SHOPLINE_BASE_URL", "SHOPLINE_ACCESS_TOKEN"):
        env.pop(name, None)
    completed = subprocess.run(
        [sys.executable, "-m", "hub_cli.main", "demo", "--check", "--products", "150",
         "--serp-port", str(_free_port()), "--region-port-base", "0", "--stock-port", "0",
         "--nextengine-port", "0", "--shopline-port", "0"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-3000:]
    assert "RUN_SUCCESS" in output
    assert secret not in output  # the key reaches the resource through EnvVar, never the logs
    # The Shopline simulator signs with SHOPLINE_APP_SECRET from its environment: not on its printed command line.
    assert shopline_secret not in output and "--app-secret" not in output
    with closing(sqlite3.connect(tmp_path / "hub" / "catalog.sqlite3")) as db:
        count, = db.execute("select count(*) from products where supplier_id = 'SERP'").fetchone()
        goods, = db.execute("select count(*) from products where supplier_id = 'NEXTENGINE'").fetchone()
        jobs = dict(db.execute("select supplier_id, status from import_jobs").fetchall())
        syncs = dict(db.execute("select region_code, status from region_sync_logs").fetchall())
        order_platforms = {row[0] for row in db.execute("select distinct platform from orders")}
        delivered = dict(db.execute("select region_code, count(*) from region_deliveries group by region_code"))
        published, = db.execute("select count(*) from products where is_active and status = 'Published'").fetchone()
        invoices = dict(db.execute("select status, count(*) from invoices group by status"))
        pushes = db.execute("select sku, stock, outcome from inventory_sync_log where platform = 'nextengine'").fetchall()
    assert count >= 145 and goods > 0
    assert jobs == {"SERP": "succeeded", "NEXTENGINE": "succeeded", "SHOPLINE": "succeeded"}
    assert syncs == {"TW": "succeeded", "US": "succeeded", "JP": "succeeded"}
    assert order_platforms == {"shopline", "nextengine"}
    assert delivered == {"TW": published, "US": published, "JP": published}
    assert "stock_check" in output and output.count("RUN_SUCCESS") >= 12
    assert "Next Engine stock pushes" in output and ": ok" in output
    assert len(pushes) == 2 and all(sku.startswith("NE-") and outcome == "applied" for sku, _, outcome in pushes)
    assert invoices == {"confirmed": 25}  # numbered, written as F0401, taken by Turnkey, confirmed
    assert (tmp_path / "hub" / "dagster_home" / "dagster.yaml").exists()
