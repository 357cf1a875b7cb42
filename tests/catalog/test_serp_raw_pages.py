"""SERP pages arrive as raw records: each kept as the bytes the supplier sent, hashed as such."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from commerce_core.catalog import import_jobs
from commerce_core.catalog.models import RawRecord
from commerce_core.catalog.supplier_staging import stage_batches
from commerce_core.db.engine import get_engine
from commerce_core.db.migrate import upgrade
from commerce_core.db.schema import import_rejects, supplier_records
from commerce_core.http.resilience import ResilientHttpClient, RetrySettings
from commerce_core.suppliers.serp import HttpSerpSupplierClient
from simulators.asgi_server import ServedApp

FIRST = b'{"name": "Tour", "id": "P1", "updatedAt": "2025-01-02T03:04:05Z"}'
PAGE = (b'{"products": [' + FIRST + b', "not an object", {"name": "no id"}], '
        b'"page": 1, "pageSize": 3, "totalCount": 3, "hasNextPage": false}')


class Answers:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.served = 0

    async def handle(self, request: Request) -> Response:
        body = self.bodies[min(self.served, len(self.bodies) - 1)]
        self.served += 1
        return Response(body, media_type="application/json")


@pytest.fixture
def supplier() -> Iterator[tuple[Answers, HttpSerpSupplierClient]]:
    answers = Answers()
    routes = [Route("/v1/products", answers.handle), Route("/v1/products/{product_id}", answers.handle)]
    with ServedApp(Starlette(routes=routes)) as served:
        http = ResilientHttpClient(served.url, retry=RetrySettings(max_attempts=3, backoff_seconds=0.01))
        client = HttpSerpSupplierClient(http)
        try:
            yield answers, client
        finally:
            client.close()


def test_records_keep_the_bytes_the_supplier_sent(supplier) -> None:
    answers, client = supplier
    answers.bodies = [PAGE]
    page = client.get_page(1, 3)
    assert page.products == [
        RawRecord(FIRST, "P1", "2025-01-02T03:04:05Z"),
        RawRecord(b'"not an object"', None, None),
        RawRecord(b'{"name": "no id"}', None, None),
    ]
    assert (page.total_count, page.has_next_page) == (3, False)


def test_a_truncated_page_is_fetched_again(supplier) -> None:
    answers, client = supplier
    answers.bodies = [PAGE[:40], PAGE]
    assert client.get_page(1, 3).products[0].external_id == "P1"
    assert answers.served == 2


@pytest.mark.parametrize("body", [
    b'{"products": {"id": "P1"}, "page": 1, "pageSize": 3, "totalCount": 1, "hasNextPage": false}',
    # Without hasNextPage a page must not pass for the last one (a full sync would archive the rest).
    b'{"products": [], "page": 1, "pageSize": 3, "totalCount": 9}',
    b'{"products": [], "page": "1", "pageSize": 3, "totalCount": 9, "hasNextPage": true}',
], ids=["products-not-a-list", "no-hasNextPage", "page-not-a-number"])
def test_a_page_of_the_wrong_shape_is_refused_by_name(supplier, body: bytes) -> None:
    answers, client = supplier
    answers.bodies = [body]
    with pytest.raises(ValueError, match="SERP page 1 is not a product page"):
        client.get_page(1, 3)
    assert answers.served == 1  # well-formed JSON of the wrong shape is not retried


def test_a_product_read_by_id_is_the_same_raw_record_as_listed(supplier) -> None:
    answers, client = supplier
    answers.bodies = [PAGE]
    listed = client.get_page(1, 3).products[0]
    answers.bodies = [FIRST]
    assert client.get_product("P1") == listed


@pytest.mark.parametrize("whole_listing", [False, True], ids=["lookups", "whole-listing"])
def test_staging_raw_records(tmp_path, whole_listing: bool) -> None:
    url = f"sqlite:///{tmp_path / 'staging.sqlite3'}"
    upgrade(url)
    engine = get_engine(url)
    def job():
        with engine.begin() as conn:
            return import_jobs.start_job(conn, supplier_id="SERP", mode="full", trigger="manual")

    page = [RawRecord(FIRST, "P1", "2025-01-02T03:04:05Z"), RawRecord(b'"not an object"', None, None)]

    first = stage_batches(engine, "SERP", [page], job(), whole_listing=whole_listing)
    assert (first.staged_new, first.rejected) == (1, 1)
    with engine.connect() as conn:
        assert conn.execute(select(supplier_records.c.payload)).scalar_one() == FIRST.decode()
        reject = conn.execute(select(import_rejects.c.rule, import_rejects.c.record)).one()
    assert tuple(reject) == ("id_required", '"not an object"')

    again = stage_batches(engine, "SERP", [page[:1]], job(), whole_listing=whole_listing)
    assert (again.unchanged, again.staged_new, again.staged_changed) == (1, 0, 0)

    reordered = b'{"id": "P1", "name": "Tour", "updatedAt": "2025-01-02T03:04:05Z"}'
    changed = stage_batches(engine, "SERP", [[RawRecord(reordered, "P1", "2025-01-02T03:04:05Z")]], job(),
                            whole_listing=whole_listing)
    # Other bytes are staged again; later stages compare content and find nothing new.
    assert changed.staged_changed == 1
    engine.dispose()
