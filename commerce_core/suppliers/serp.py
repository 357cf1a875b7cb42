"""SERP supplier API client (docs/protocols/serp-supplier.md; GlobalHub design: SerpApiClient)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote

import msgspec

from commerce_core.catalog.models import RawRecord
from commerce_core.http.resilience import ResilientHttpClient

MAX_PAGE_SIZE = 500


class _PageEnvelope(msgspec.Struct):
    # The records stay undecoded bytes; staging reads only what _RecordKey holds. Every field is
    # required: a page without hasNextPage must not pass for the last page of a full listing.
    products: msgspec.Raw
    page: int
    pageSize: int
    totalCount: int
    hasNextPage: bool


class _RecordKey(msgspec.Struct):
    id: object = None
    updatedAt: object = None


_decode_envelope = msgspec.json.Decoder(_PageEnvelope).decode
_decode_records = msgspec.json.Decoder(list[msgspec.Raw]).decode
_decode_key = msgspec.json.Decoder(_RecordKey).decode
_decode_raw = msgspec.json.Decoder(msgspec.Raw).decode


def _lenient(decode):
    """Syntax errors stay ValueErrors (retried); a schema mismatch comes back as the answer."""
    def decode_or_mismatch(content: bytes):
        try:
            return decode(content)
        except msgspec.ValidationError as mismatch:
            return mismatch
    return decode_or_mismatch


def _raw_record(raw: msgspec.Raw) -> RawRecord:
    payload = bytes(raw)
    try:
        key = _decode_key(raw)
    except msgspec.ValidationError:  # not a JSON object: staging rejects it for want of an id
        return RawRecord(payload, None, None)
    return RawRecord(payload, key.id, key.updatedAt)


@dataclass(frozen=True)
class SerpPage:
    products: list[RawRecord]
    page: int
    page_size: int
    total_count: int
    has_next_page: bool


def format_updated_since(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class SerpSupplierClient(ABC):
    @abstractmethod
    def get_page(self, page: int, page_size: int, updated_since: datetime | None = None) -> SerpPage: ...

    @abstractmethod
    def get_product(self, product_id: str) -> dict | None:
        """The product, or None when the supplier answers 404."""

    def iter_pages(self, page_size: int = MAX_PAGE_SIZE, updated_since: datetime | None = None,
                   concurrency: int = 1) -> Iterator[SerpPage]:
        """Every page of the listing in order; pages after the first are fetched `concurrency` at a time."""
        first = self.get_page(1, page_size, updated_since)
        yield first
        if not first.has_next_page:
            return
        last_page = -(-first.total_count // page_size)
        remaining = range(2, last_page + 1)
        if concurrency <= 1:
            for number in remaining:
                yield self.get_page(number, page_size, updated_since)
            return
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="serp-page") as pool:
            # A bounded window keeps memory flat however long the listing is.
            window = concurrency * 2
            pending = [pool.submit(self.get_page, n, page_size, updated_since) for n in remaining[:window]]
            upcoming = iter(remaining[window:])
            while pending:
                page = pending.pop(0).result()
                next_number = next(upcoming, None)
                if next_number is not None:
                    pending.append(pool.submit(self.get_page, next_number, page_size, updated_since))
                yield page

    def close(self) -> None:
        """Release connections."""


class HttpSerpSupplierClient(SerpSupplierClient):
    def __init__(self, http: ResilientHttpClient):
        self.http = http

    def get_page(self, page: int, page_size: int, updated_since: datetime | None = None) -> SerpPage:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}, got {page_size}")
        params: dict = {"page": page, "pageSize": page_size}
        if updated_since is not None:
            params["updatedSince"] = format_updated_since(updated_since)
        # Well-formed JSON of the wrong shape is a broken contract, not a broken transfer: not retried.
        body = self.http.get_json("/v1/products", params, decode=_lenient(_decode_envelope))
        try:
            if isinstance(body, msgspec.ValidationError):
                raise body
            return SerpPage(
                products=[_raw_record(raw) for raw in _decode_records(body.products)],
                page=body.page,
                page_size=body.pageSize,
                total_count=body.totalCount,
                has_next_page=body.hasNextPage,
            )
        except msgspec.ValidationError as error:
            raise ValueError(f"SERP page {page} is not a product page: {error}") from error

    def get_product(self, product_id: str) -> RawRecord | None:
        raw = self.http.get_json(f"/v1/products/{quote(product_id, safe='')}", allow_404=True, decode=_decode_raw)
        # Hashed as sent, like the listing's records, so a product read by id compares equal to itself listed.
        return None if raw is None else _raw_record(raw)

    def close(self) -> None:
        self.http.close()
