"""End to end: the SERP simulator sends signed webhooks to the running service, the sensor's tick asks
for one run, and that run re-imports exactly the changed products and writes its run id on the events."""

from __future__ import annotations

from datetime import timedelta

import httpx
from dagster import DagsterInstance, build_sensor_context, materialize
from sqlalchemy import select, update

from commerce_core.db.cursors import utcnow
from commerce_core.db.engine import get_engine
from commerce_core.db.schema import products, webhook_events
from definitions import defs
from hub_assets.catalog import CATALOG_ASSETS
from resources import CatalogDatabase
from sensors.supplier_events import supplier_events_sensor
from stock_service.settings import LOCAL_SERP_WEBHOOK_SECRET
from tests.catalog.helpers import catalog_resources, materialization_metadata, run_catalog
from tests.stock.helpers import served, service_settings


def test_simulator_webhooks_reach_the_service_and_reimport_exactly_those_products(database_url, serp_simulator):
    supplier, catalog = serp_simulator(products=50)
    run_catalog(database_url, supplier.url, mode="full")
    changed = catalog.change(3)
    with served(service_settings(database_url, False)) as service:
        sent = httpx.post(f"{supplier.url}/_sim/webhooks", json={
            "url": f"{service.base_url}/webhooks/serp", "secret": LOCAL_SERP_WEBHOOK_SECRET, "ids": changed},
            timeout=30).json()
    assert sent["statuses"] == {"202": 3}
    with get_engine(database_url).begin() as conn:  # past the sensor's commit lag
        conn.execute(update(webhook_events).values(received_at=utcnow() - timedelta(seconds=5)))
    with build_sensor_context(resources={"catalog_db": CatalogDatabase(database_url=database_url)},
                              repository_def=defs.get_repository_def()) as context:
        [request] = supplier_events_sensor.evaluate_tick(context).run_requests
    config = request.run_config["ops"]["serp_products"]["config"]
    assert sorted(config["product_ids"]) == sorted(changed)

    with get_engine(database_url).connect() as conn:
        assert set(conn.execute(select(webhook_events.c.run_id)).scalars()) == {None}  # known only once it runs
    # Tagged as the sensor daemon tags the run it launches for a request (the run key under dagster/run_key).
    result = materialize(CATALOG_ASSETS, resources=catalog_resources(database_url, supplier.url),
                         run_config=request.run_config, instance=DagsterInstance.ephemeral(),
                         tags={**request.tags, "dagster/run_key": request.run_key})
    assert materialization_metadata(result, "serp_products")["fetched"] == 3
    assert materialization_metadata(result, "central_catalog")["updated"] == 3
    with get_engine(database_url).connect() as conn:
        names = dict(conn.execute(select(products.c.external_product_id, products.c.name)
                                  .where(products.c.external_product_id.in_(changed))).all())
    assert names == {key: catalog.product(catalog.index_for_id(key))["name"] for key in changed}
    with get_engine(database_url).connect() as conn:  # each event names the run that handled it
        assert set(conn.execute(select(webhook_events.c.run_key, webhook_events.c.run_id)).all()) == {
            (request.run_key, result.run_id)}
