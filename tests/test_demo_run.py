"""The README's run command, headless: migrations, the simulators, Next Engine stock pushes to the stock
service, a full import, every region's sync and today's invoice batch through Turnkey via Dagster's CLI."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import httpx

from hub_cli.processes import descendants, is_running

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _command(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return str(pid)


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
    # The console says what happened, briefly; Dagster's event stream is in the log file it names.
    assert output.rstrip().splitlines()[-3:-2] == ["PASS: every step succeeded and every promise holds"], output[-3000:]
    assert "25 of 25 confirmed" in output and "DEBUG" not in output and "SupersessionWarning" not in output
    assert len(output.splitlines()) < 60, output
    [log_path] = (tmp_path / "hub" / "logs").glob("check-*.log")
    assert str(log_path) in output
    events = log_path.read_text()
    assert events.count("RUN_SUCCESS") >= 12 and "stock_check" in events  # one per step run
    logs = "".join(path.read_text(errors="replace") for path in (tmp_path / "hub" / "logs").iterdir())
    for secret_text in (secret, shopline_secret):  # keys reach resources through EnvVar, never logs or output
        assert secret_text not in output and secret_text not in logs
    # The Shopline simulator signs with SHOPLINE_APP_SECRET from its environment: not on its command line.
    assert "--app-secret" not in output + logs
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
    assert "Next Engine stock pushes: ok" in output
    assert len(pushes) == 2 and all(sku.startswith("NE-") and outcome == "applied" for sku, _, outcome in pushes)
    assert invoices == {"confirmed": 25}  # numbered, written as F0401, taken by Turnkey, confirmed
    assert (tmp_path / "hub" / "dagster_home" / "dagster.yaml").exists()


def test_ctrl_c_stops_every_process_of_the_demo_within_seconds(tmp_path):
    """`hub demo` with the UI up, then Ctrl-C: the demo, `dagster dev`, its webserver, daemon, code servers
    and every simulator end, and nothing they started is left running."""
    env = {**os.environ, "HUB_DATA_DIR": str(tmp_path / "hub")}
    for name in ("HUB_DATABASE_URL", "DAGSTER_HOME", "SERP_BASE_URL", "REGION_TW_URL", "REGION_US_URL",
                 "REGION_JP_URL", "HUB_REDIS_URL", "NEXTENGINE_BASE_URL", "SHOPLINE_BASE_URL"):
        env.pop(name, None)
    ui_port = _free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "hub_cli.main", "demo", "--products", "50", "--port", str(ui_port), "--serp-port", "0",
         "--region-port-base", "0", "--stock-port", "0", "--nextengine-port", "0", "--shopline-port", "0"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 240
        while True:  # the UI and its code location up: every kind of process has started
            seen |= descendants(demo.pid)
            assert demo.poll() is None, demo.stdout.read()[-3000:]
            assert time.monotonic() < deadline, "the Dagster UI did not come up"
            try:
                answer = httpx.post(f"http://127.0.0.1:{ui_port}/graphql", timeout=2,
                                    json={"query": "{ assetNodes { id } }"}).json()
                if answer.get("data", {}).get("assetNodes"):
                    break
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.5)
        seen |= descendants(demo.pid)
        assert len(seen) >= 10, "simulators, stock service, dagster dev and what it started"
        demo.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends the demo
        output, _ = demo.communicate(timeout=30)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
    assert "[hub] stopped" in output, output[-3000:]
    time.sleep(1)
    left = {pid for pid in seen if is_running(pid)}
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"still running after Ctrl-C: {[_command(pid) for pid in left]}"
