"""The invoice assets and sensors end to end: files dropped in the folders → sensor runs → numbered F0401
files with Turnkey → Turnkey's answers back; an exhausted pool stops only its tenant and alerts."""

from __future__ import annotations

from datetime import date

from dagster import DagsterInstance, build_sensor_context, materialize
from sqlalchemy import select

from commerce_core.db.engine import get_engine
from commerce_core.db.schema import invoices
from commerce_core.einvoice.e0501 import AssignedRange, e0501_xml
from commerce_core.einvoice.tenancy import add_tenant
from definitions import defs
from hub_assets.invoices import invoice_batches, invoice_uploads, number_pools, turnkey_results
from resources import CatalogDatabase, InvoiceUploadsResource, NotifierResource, TurnkeyResource
from sensors.invoice_files import invoice_days_sensor, invoice_files_sensor
from simulators.turnkey import TurnkeySimulator
from tests.einvoice.helpers import SELLER_A, SELLER_B, consumer_rows, csv_bytes, drop_file


def _tick(sensor, **context_options):
    """One sensor tick, its resources open for the tick only (as the daemon runs it)."""
    with build_sensor_context(**context_options) as context:
        return sensor.evaluate_tick(context)


def _resources(database_url, tmp_path, notify_url: str | None = None) -> dict:
    return {
        "catalog_db": CatalogDatabase(database_url=database_url),
        "turnkey": TurnkeyResource(root=str(tmp_path / "turnkey")),
        # Finished files are an hour old, unfinished ones new: however slow the machine, neither changes side.
        "uploads": InvoiceUploadsResource(folder=str(tmp_path / "uploads"), settle_seconds=600),
        "notifier": NotifierResource(webhook_url=notify_url, backoff_seconds=0.01),
    }


def _run_requested(requests, resources, instance):
    """Materialize what each sensor request asks for, with its config and partition."""
    results = []
    for request in requests:
        selection = {"number_pool_import": [number_pools], "invoice_upload": [invoice_uploads],
                     "invoice_batch": [invoice_batches]}[request.job_name or "invoice_batch"]
        results.append(materialize(selection, resources=resources, instance=instance, run_config=request.run_config,
                                   partition_key=request.partition_key, raise_on_error=False))
    return results


def test_dropped_files_become_runs_and_numbered_files_with_turnkey(database_url, tmp_path, alert_sink):
    engine = get_engine(database_url)
    with engine.begin() as conn:
        add_tenant(conn, SELLER_A, "Station A", "Taipei")
        add_tenant(conn, SELLER_B, "Station B", "Taichung")
    uploads, turnkey_root = tmp_path / "uploads", tmp_path / "turnkey"
    drop_file(uploads / SELLER_A / "e0501", "pool.xml",
              e0501_xml(AssignedRange(SELLER_A, "07", "11402", "AB", 10000000, 10000099, 2)))
    # B's range comes from Turnkey's DownCast and is too small for B's day: B's batch must stop, A's not.
    drop_file(turnkey_root / "DownCast/B2PMESSAGE/E0501/SRC", "b.xml",
              e0501_xml(AssignedRange(SELLER_B, "07", "11402", "XY", 50, 99, 1)))
    bad_row = f"{SELLER_A},BAD,2025-01-15,08:00:00,,,,,0,,N,x,1,1,1,1"
    drop_file(uploads / SELLER_A / "invoices", "day.csv", csv_bytes(consumer_rows(SELLER_A, 30) + [bad_row]))
    drop_file(uploads / SELLER_B / "invoices", "day.csv", csv_bytes(consumer_rows(SELLER_B, 60)))
    drop_file(uploads / SELLER_B / "invoices", ".half-written.csv", b"tenant_ban", age_seconds=0)
    drop_file(uploads / SELLER_B / "invoices", "still-writing.csv", b"tenant_ban", age_seconds=0)

    resources = _resources(database_url, tmp_path, alert_sink.url)
    instance = DagsterInstance.ephemeral()
    tick = _tick(invoice_files_sensor, instance=instance, resources=resources)
    assert sorted(r.job_name for r in tick.run_requests) == ["invoice_upload", "number_pool_import"]
    files = {r.job_name: r.run_config["ops"] for r in tick.run_requests}
    assert len(files["invoice_upload"]["invoice_uploads"]["config"]["files"]) == 2  # not the unfinished ones
    # A retried tick from the same cursor asks for the same runs; the next tick asks for none.
    retried = _tick(invoice_files_sensor, instance=instance, resources=resources)
    assert {r.run_key for r in retried.run_requests} == {r.run_key for r in tick.run_requests}
    quiet = _tick(invoice_files_sensor, instance=instance, resources=resources, cursor=tick.cursor)
    assert quiet.run_requests == []
    assert all(r.success for r in _run_requested(sorted(tick.run_requests, key=lambda r: r.job_name != "number_pool_import"),
                                                 resources, instance))
    upload_run = instance.get_latest_materialization_event(invoice_uploads.key).asset_materialization.metadata
    assert (upload_run["accepted"].value, upload_run["rejected"].value) == (90, 1)

    days = _tick(invoice_days_sensor, instance=instance, resources=resources, repository_def=defs.get_repository_def())
    assert [r.partition_key for r in days.run_requests] == ["2025-01-15"]
    (batch,) = _run_requested(days.run_requests, resources, instance)
    assert not batch.success  # B's pool ran out …
    src = turnkey_root / "UpCast/B2SSTORAGE/F0401/SRC"
    names = sorted(path.name for path in src.iterdir())
    assert len([n for n in names if n.startswith(f"F0401_{SELLER_A}_")]) == 30  # … A's day was issued in full
    assert len([n for n in names if n.startswith(f"F0401_{SELLER_B}_XY")]) == 50  # … and B's what fit
    assert [alert["title"] for alert in alert_sink.received] == ["Invoice number pool exhausted"]
    assert alert_sink.received[0]["details"] == {"tenant": SELLER_B, "period": "11402", "waiting": 10}

    TurnkeySimulator(turnkey_root).process_pending()
    result = materialize([turnkey_results], resources=resources, instance=instance)
    metadata = result.asset_materializations_for_node("turnkey_results")[0].metadata
    assert (metadata["confirmed"].value, metadata["awaiting_turnkey"].value) == (80, 0)
    with engine.connect() as conn:
        statuses = conn.execute(select(invoices.c.status)).scalars().all()
    assert sorted(set(statuses)) == ["accepted", "confirmed"] and statuses.count("accepted") == 10


def test_batch_metadata_per_tenant_and_a_clean_rerun(database_url, tmp_path):
    engine = get_engine(database_url)
    with engine.begin() as conn:
        add_tenant(conn, SELLER_A, "Station A", "Taipei")
    uploads = tmp_path / "uploads"
    drop_file(uploads / SELLER_A / "e0501", "pool.xml",
              e0501_xml(AssignedRange(SELLER_A, "07", "11402", "AB", 10000000, 10000099, 2)))
    drop_file(uploads / SELLER_A / "invoices", "day.csv", csv_bytes(consumer_rows(SELLER_A, 12)))
    resources = _resources(database_url, tmp_path)
    instance = DagsterInstance.ephemeral()
    assert materialize([number_pools, invoice_uploads], resources=resources, instance=instance).success
    first = materialize([invoice_batches], resources=resources, instance=instance, partition_key="2025-01-15")
    metadata = first.asset_materializations_for_node("invoice_batches")[0].metadata
    assert (metadata["numbered_this_run"].value, metadata["files_written"].value) == (12, 12)
    assert metadata["amount_total"].value == 12 * 300
    assert f"| {SELLER_A} | 12 | 3600 | 12 | 0 | 88 |" in metadata["per_tenant"].value
    again = materialize([invoice_batches], resources=resources, instance=instance, partition_key="2025-01-15")
    metadata = again.asset_materializations_for_node("invoice_batches")[0].metadata
    assert (metadata["numbered_this_run"].value, metadata["files_written"].value) == (0, 0)
    # The same bytes uploaded again are one upload; the sensor's days tick has nothing to ask.
    assert materialize([invoice_uploads], resources=resources, instance=instance).asset_materializations_for_node(
        "invoice_uploads")[0].metadata["duplicates"].value == 1
    tick = _tick(invoice_days_sensor, instance=instance, resources=resources, repository_def=defs.get_repository_def())
    assert not tick.run_requests


def test_the_invoice_graph_reads_like_the_business():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"number_pools", "invoice_uploads", "invoice_batches", "turnkey_results"} <= keys
    batches = graph.get(invoice_batches.key)
    assert {key.to_user_string() for key in batches.parent_keys} == {"invoice_uploads", "number_pools"}
    assert batches.partitions_def.get_partition_keys()[0] == "2025-01-01"
    assert date.today().isoformat() <= batches.partitions_def.get_partition_keys()[-1]
    assert {key.to_user_string() for key in graph.get(turnkey_results.key).parent_keys} == {"invoice_batches"}
