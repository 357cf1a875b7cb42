"""Regional ProductsAPI client (docs/protocols/region-productsapi.md; GlobalHub design: SendBatchToRegion)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from commerce_core.http.resilience import ResilientHttpClient

SYNC_PATH = "/api/products/sync-from-globalhub"
LOOKUP_PATH = "/api/products/globalhub-lookup"
MAX_LOOKUP_IDS = 500


@dataclass(frozen=True)
class SyncAnswer:
    """The region's answer to one batch: per product `created`, `updated` or `failed` (+ error)."""

    details: list[dict]

    def by_id(self) -> dict[str, dict]:
        return {detail.get("globalHubProductId"): detail for detail in self.details}


class RegionProductsClient(ABC):
    @abstractmethod
    def sync_products(self, products: list[dict], sync_timestamp: str) -> SyncAnswer: ...

    @abstractmethod
    def lookup(self, ids: list[str]) -> list[dict]:
        """The region's current copies of `ids` (at most 500); ids it does not hold are left out."""

    def close(self) -> None:
        """Release connections."""


class HttpRegionProductsClient(RegionProductsClient):
    def __init__(self, http: ResilientHttpClient):
        self.http = http

    def sync_products(self, products: list[dict], sync_timestamp: str) -> SyncAnswer:
        body = self.http.post_json(SYNC_PATH, {"products": products, "syncTimestamp": sync_timestamp,
                                                "sourceRegion": "Central"})
        details = body.get("details") if isinstance(body, dict) else None
        if not isinstance(details, list):
            raise ValueError(f"{SYNC_PATH} answered without a details list: {str(body)[:200]}")
        return SyncAnswer(details=details)

    def lookup(self, ids: list[str]) -> list[dict]:
        if len(ids) > MAX_LOOKUP_IDS:
            raise ValueError(f"at most {MAX_LOOKUP_IDS} ids per lookup, got {len(ids)}")
        body = self.http.post_json(LOOKUP_PATH, {"ids": ids})
        found = body.get("products") if isinstance(body, dict) else None
        if not isinstance(found, list):
            raise ValueError(f"{LOOKUP_PATH} answered without a products list: {str(body)[:200]}")
        return found

    def close(self) -> None:
        self.http.close()
