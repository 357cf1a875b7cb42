"""The Dagster UI as the user sees it: dagster-webserver on the workspace, its GraphQL asset graph, and the
lineage pages rendered by headless Chromium (Debian's package; screenshots kept in test-artifacts/ui/)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bench.common import free_port

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "ui"
LOCATION = "__repository__@commerce_hub"  # workspace.yaml location_name
# The target asset graph (docs/background.md): every asset with its group and the upstream assets it reads.
EXPECTED = {
    "serp_products": ("catalog", set()),
    "nextengine_products": ("catalog", set()),
    "shopline_products": ("catalog", set()),
    "validated_products": ("catalog", {"serp_products", "nextengine_products", "shopline_products"}),
    "enriched_products": ("catalog", {"validated_products"}),
    "central_catalog": ("catalog", {"enriched_products"}),
    "regional_snapshots": ("regions", {"central_catalog"}),
    "shopline_orders": ("orders", set()),
    "nextengine_orders": ("orders", set()),
    "stock_reconciliation": ("stock", None),
    "stock_levels_overview": ("stock", None),
    "shopline_inventory_sync": ("stock", {"shopline_products"}),
    "number_pools": ("invoices", set()),
    "invoice_uploads": ("invoices", set()),
    "invoice_batches": ("invoices", {"invoice_uploads", "number_pools"}),
    "turnkey_results": ("invoices", {"invoice_batches"}),
    "price_history": ("monitoring", {"central_catalog"}),
    "price_change_alerts": ("monitoring", {"price_history"}),
}
QUERY = "{ assetNodes { assetKey { path } groupName dependencyKeys { path } } }"


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    home = tmp_path_factory.mktemp("dagster_home")
    # The first-visit "join the community" dialog would cover the graph in the screenshots.
    (home / "dagster.yaml").write_text("nux:\n  enabled: false\ntelemetry:\n  enabled: false\n")
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "HUB_DATA_DIR": str(home / "hub")}
    process = subprocess.Popen([sys.executable, "-m", "dagster_webserver", "-w", "workspace.yaml", "-h", "127.0.0.1",
                                "-p", str(port)], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("dagster-webserver did not answer within 120 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_asset_graph_has_every_asset_group_and_dependency(webserver):
    answer = httpx.post(f"{webserver}/graphql", json={"query": QUERY}, timeout=60).json()
    nodes = {"/".join(node["assetKey"]["path"]): node for node in answer["data"]["assetNodes"]}
    assert set(EXPECTED) <= set(nodes)
    for name, (group, upstream) in EXPECTED.items():
        assert nodes[name]["groupName"] == group, name
        if upstream is not None:
            assert {"/".join(key["path"]) for key in nodes[name]["dependencyKeys"]} == upstream, name


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; scripts/test.sh installs it)")
    return found


@pytest.mark.parametrize("group", ["catalog", "invoices", "monitoring"])
def test_the_lineage_page_renders_the_asset_names(webserver, group):
    chromium = _chromium()
    page = f"{webserver}/locations/{LOCATION}/asset-groups/{group}"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1600,1000",
             "--virtual-time-budget=20000"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", page], capture_output=True, text=True, timeout=120).stdout
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / f"lineage-{group}.png"
    subprocess.run([chromium, *flags, f"--screenshot={screenshot}", page], capture_output=True, timeout=120)
    names = [name for name, (asset_group, _) in EXPECTED.items() if asset_group == group]
    missing = [name for name in names if name not in dom]
    assert not missing, f"not rendered on {page}: {missing}"
    assert screenshot.stat().st_size > 20_000  # a real picture of the page, kept for people to look at
