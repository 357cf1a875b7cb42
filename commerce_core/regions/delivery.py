"""Deliver central products to one region: map, resolve conflicts, send in batches.

Batches of the region's batch size go out with bounded concurrency over one
keep-alive client (retries and the region's circuit live in that client). The
answer decides each product's fate: `created`/`updated` arrived; a per-product
`failed` did not. A 400 rejects the whole call, so the batch is split in halves
until the product the region refuses stands alone: the others still arrive.
What cannot be delivered (a 400, retries exhausted, the circuit open) comes
back as a failure for the caller to dead-letter. 401/403 mean the region's key
is wrong: that stops the region's run instead of dead-lettering everything.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from commerce_core.http.resilience import CircuitOpenError, HttpCallError, PermanentError
from commerce_core.regions.central_products import CentralProduct
from commerce_core.regions.client import MAX_LOOKUP_IDS, RegionProductsClient
from commerce_core.regions.config import RegionConfig
from commerce_core.regions.conflicts import resolve
from commerce_core.regions.fx import FxRates
from commerce_core.regions.regional_product import to_regional_product


class RegionRefused(RuntimeError):
    """The region refuses our credentials: nothing can be delivered until configuration is fixed."""


@dataclass(frozen=True)
class Failure:
    product: CentralProduct
    error: str
    payload: dict | None = None
    http_status: int | None = None


@dataclass
class ChunkOutcome:
    delivered: list[tuple[CentralProduct, str]] = field(default_factory=list)  # (product, created|updated)
    kept_regional: list[CentralProduct] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    sent: int = 0
    calls: int = 0
    lookups: int = 0
    circuit_skipped_batches: int = 0
    untranslated: int = 0

    def absorb(self, other: ChunkOutcome) -> None:
        self.delivered += other.delivered
        self.kept_regional += other.kept_regional
        self.failed += other.failed
        for name in ("sent", "calls", "lookups", "circuit_skipped_batches", "untranslated"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


class RegionDelivery:
    def __init__(self, region: RegionConfig, client: RegionProductsClient, fx: FxRates, *,
                 concurrency: int = 8, sync_timestamp: str):
        self.region = region
        self.client = client
        self.fx = fx
        self.sync_timestamp = sync_timestamp
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"region-{region.code}")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def deliver(self, products: list[CentralProduct]) -> ChunkOutcome:
        outcome = ChunkOutcome()
        mapped: list[tuple[CentralProduct, dict]] = []
        for product in products:
            try:
                regional = to_regional_product(product, self.region, self.fx, self.sync_timestamp)
            except (ValueError, KeyError, ArithmeticError) as error:
                outcome.failed.append(Failure(product, f"mapping: {type(error).__name__}: {error}"))
                continue
            outcome.untranslated += len(regional.untranslated)
            mapped.append((product, regional.dto))
        to_send = self._resolve(mapped, outcome)
        size = self.region.batch_size
        batches = [to_send[start : start + size] for start in range(0, len(to_send), size)]
        for result in self._pool.map(self._send, batches):
            outcome.absorb(result)
        return outcome

    def _resolve(self, mapped: list[tuple[CentralProduct, dict]], outcome: ChunkOutcome) -> list[tuple]:
        strategy = self.region.conflict_strategy
        if strategy == "CentralWins":  # the region's copy cannot change the result: no lookup
            return mapped
        resolved = []
        for start in range(0, len(mapped), MAX_LOOKUP_IDS):
            group = mapped[start : start + MAX_LOOKUP_IDS]
            try:
                outcome.lookups += 1
                copies = {copy.get("globalHubProductId"): copy
                          for copy in self.client.lookup([dto["globalHubProductId"] for _, dto in group])}
            except PermanentError as error:
                self._refuse_on_auth(error)
                outcome.failed += [Failure(product, f"lookup: {error}", dto, error.status_code) for product, dto in group]
                continue
            except (HttpCallError, ValueError) as error:
                outcome.failed += [Failure(product, f"lookup: {error}", dto) for product, dto in group]
                continue
            for product, dto in group:
                try:
                    chosen = resolve(dto, copies.get(dto["globalHubProductId"]), strategy,
                                     self.region.default_language)
                except (ValueError, KeyError, TypeError, AttributeError) as error:  # one odd regional copy
                    outcome.failed.append(Failure(product, f"conflict ({strategy}): {type(error).__name__}: {error}",
                                                  dto))
                    continue
                if chosen is None:
                    outcome.kept_regional.append(product)
                else:
                    resolved.append((product, chosen))
        return resolved

    def _send(self, batch: list[tuple[CentralProduct, dict]]) -> ChunkOutcome:
        result = ChunkOutcome()
        try:
            result.calls += 1
            answer = self.client.sync_products([dto for _, dto in batch], self.sync_timestamp)
        except CircuitOpenError as error:
            result.calls -= 1
            result.circuit_skipped_batches += 1
            result.failed += [Failure(product, str(error), dto) for product, dto in batch]
            return result
        except PermanentError as error:
            self._refuse_on_auth(error)
            if error.status_code == 400 and len(batch) > 1:
                middle = len(batch) // 2
                for half in (batch[:middle], batch[middle:]):
                    result.absorb(self._send(half))
                return result
            result.failed += [Failure(product, str(error), dto, error.status_code) for product, dto in batch]
            return result
        except (HttpCallError, ValueError) as error:
            result.failed += [Failure(product, str(error), dto) for product, dto in batch]
            return result
        result.sent += len(batch)
        details = answer.by_id()
        for product, dto in batch:
            detail = details.get(dto["globalHubProductId"]) or {"status": "failed", "error": "missing from the answer"}
            if detail.get("status") in ("created", "updated"):
                result.delivered.append((product, detail["status"]))
            else:
                result.failed.append(Failure(product, f"region: {detail.get('error') or 'failed'}", dto))
        return result

    def _refuse_on_auth(self, error: PermanentError) -> None:
        if error.status_code in (401, 403):
            raise RegionRefused(f"region {self.region.code} refused our credentials ({error}); "
                                f"check REGION_{self.region.code}_API_KEY") from error
