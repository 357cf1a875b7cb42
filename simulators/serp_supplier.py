"""SERP supplier simulator: GET /v1/products[/{id}] per docs/protocols/serp-supplier.md.

Products are generated lazily as a pure function of (seed, index, version), so a
1,000,000-product catalog starts instantly. Faults (5xx, 429, slow, truncated and
invalid data) are injected deterministically from seeds.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import random
import re
import threading
import time
import uuid
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# 2025-01-01T00:00:00Z; product i is created at T0 + i seconds.
T0 = 1735689600
BASE_UPDATE_DELAY = 86400
MAX_PRODUCTS = 10_000_000  # ids are SERP-{index:07d}
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100
INVALID_KINDS = ("missing_name", "negative_price", "bad_currency", "bad_status", "duplicate_id")
LANGUAGES = ("zh-TW", "en-US", "ja-JP")
_ID_RE = re.compile(r"SERP-(\d{7})")
_PPM = 1_000_000

# Word tables as (en-US, zh-TW, ja-JP).
_CITIES = (
    ("Kyoto", "京都", "京都"),
    ("Tokyo", "東京", "東京"),
    ("Osaka", "大阪", "大阪"),
    ("Taipei", "台北", "台北"),
    ("Tainan", "台南", "台南"),
    ("Hualien", "花蓮", "花蓮"),
    ("Kaohsiung", "高雄", "高雄"),
    ("Sapporo", "札幌", "札幌"),
    ("Okinawa", "沖繩", "沖縄"),
    ("Nara", "奈良", "奈良"),
    ("Hakone", "箱根", "箱根"),
    ("Seoul", "首爾", "ソウル"),
    ("Bangkok", "曼谷", "バンコク"),
    ("Jiufen", "九份", "九份"),
    ("Kenting", "墾丁", "墾丁"),
    ("Fukuoka", "福岡", "福岡"),
)
_ADJECTIVES = (
    ("Autumn", "秋季", "秋の"),
    ("Spring", "春季", "春の"),
    ("Sunset", "夕陽", "夕暮れ"),
    ("Night", "夜間", "夜の"),
    ("Morning", "晨間", "朝の"),
    ("Private", "私人", "プライベート"),
    ("Classic", "經典", "定番"),
    ("Deluxe", "豪華", "デラックス"),
    ("Hidden", "秘境", "穴場"),
    ("Scenic", "景觀", "絶景"),
)
_SUBJECTS = (
    ("Temple", "寺廟", "寺院"),
    ("Food", "美食", "グルメ"),
    ("Hot Spring", "溫泉", "温泉"),
    ("Cycling", "單車", "サイクリング"),
    ("Hiking", "登山", "ハイキング"),
    ("Market", "市集", "市場"),
    ("Harbor", "港灣", "港"),
    ("Cherry Blossom", "賞櫻", "桜"),
    ("Tea", "茶園", "茶畑"),
    ("Old Street", "老街", "古い町並み"),
)
_PRODUCT_TYPES = ("Tour", "Voucher", "Ticket", "Hotel", "Transport")
_NOUNS = {
    "Tour": (("Tour", "導覽", "ツアー"), ("Day Trip", "一日遊", "日帰り旅行"), ("Walking Tour", "散步導覽", "散策ツアー")),
    "Voucher": (("Dining Voucher", "餐券", "食事券"), ("Spa Voucher", "SPA券", "スパ券"), ("Gift Voucher", "禮券", "ギフト券")),
    "Ticket": (("Admission Ticket", "門票", "入場券"), ("Pass", "通行證", "パス"), ("Entry Ticket", "入場券", "チケット")),
    "Hotel": (("Hotel Stay", "住宿", "ホテル宿泊"), ("Ryokan Stay", "旅館住宿", "旅館宿泊"), ("Resort Package", "度假套裝", "リゾートパック")),
    "Transport": (("Airport Transfer", "機場接送", "空港送迎"), ("Rail Pass", "鐵路周遊券", "鉄道パス"), ("Shuttle", "接駁車", "シャトル")),
}
_CATEGORIES = {
    "Tour": ("Tours & Activities > Cultural", "Tours & Activities > Outdoor", "Tours & Activities > Food"),
    "Voucher": ("Vouchers > Dining", "Vouchers > Wellness"),
    "Ticket": ("Attractions > Theme Parks", "Attractions > Museums", "Attractions > Observation Decks"),
    "Hotel": ("Accommodation > Hotels", "Accommodation > Ryokan"),
    "Transport": ("Transport > Airport", "Transport > Rail", "Transport > Bus"),
}
_INCLUDES = (
    ("a local guide", "在地導遊", "現地ガイド"),
    ("hotel pickup", "飯店接送", "ホテル送迎"),
    ("lunch", "午餐", "昼食"),
    ("entrance fees", "門票", "入場料"),
    ("a souvenir", "紀念品", "お土産"),
    ("travel insurance", "旅遊保險", "旅行保険"),
)
_LANG_POS = {"en-US": 0, "zh-TW": 1, "ja-JP": 2}
# Rough exchange rates from TWD, per currency.
_CURRENCY_RATE = {"TWD": 1.0, "USD": 1 / 31.5, "JPY": 4.7}
_CURRENCY_ORDERS = (
    ("TWD", "USD", "JPY"),
    ("TWD", "JPY", "USD"),
    ("USD", "TWD", "JPY"),
    ("JPY", "TWD", "USD"),
)


def iso(ts: float) -> str:
    """Format epoch seconds as e.g. 2026-02-07T02:00:00Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(ts)))


def parse_iso(value: str) -> float:
    """Parse ISO-8601 with Z or an offset into epoch seconds; ValueError otherwise."""
    text = value.strip()
    # An unencoded "+" in a query string arrives as a space.
    text = re.sub(r" (\d{2}:?\d{2})$", r"+\1", text)
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        raise ValueError("timezone required")
    return dt.timestamp()


def _digest(seed: int, index: int, tag: str) -> bytes:
    return hashlib.blake2b(f"{seed}:{index}:{tag}".encode(), digest_size=64).digest()


def _money(amount: float, currency: str) -> str:
    if currency == "JPY":
        return f"{round(amount):d}.00"
    return f"{amount:.2f}"


def _name(lang: str, city: tuple, adj: tuple, subject: tuple, noun: tuple, suffix: int) -> str:
    k = _LANG_POS[lang]
    if k == 0:
        return f"{city[0]} {adj[0]} {subject[0]} {noun[0]} {suffix}"
    return f"{city[k]}{adj[k]}{subject[k]}{noun[k]} {suffix}"


def _description(lang: str, city: tuple, adj: tuple, subject: tuple, noun: tuple, inc: tuple) -> str:
    k = _LANG_POS[lang]
    a, b = inc
    if k == 0:
        return (
            f"<p>  Discover {city[0]} on this {adj[0].lower()} {subject[0].lower()} {noun[0].lower()}.  </p><br>\n"
            f"<p>Includes {a[0]} and {b[0]}.   Meeting point: {city[0]} Station, 15 minutes before start. </p>"
        )
    if k == 1:
        return (
            f"<p>  探索{city[1]}的{adj[1]}{subject[1]}{noun[1]}，帶您走訪最道地的風景。 </p><br>\n"
            f"<p>包含{a[1]}與{b[1]}。  集合地點：{city[1]}車站，請於出發前十五分鐘抵達。</p>"
        )
    return (
        f"<p>  {city[2]}の{adj[2]}{subject[2]}{noun[2]}で、地元ならではの魅力を満喫。 </p><br>\n"
        f"<p>{a[2]}と{b[2]}付き。  集合場所：{city[2]}駅、出発の十五分前にお越しください。</p>"
    )


def generate_product(seed: int, index: int, version: int = 0, updated_at: int | None = None) -> dict[str, Any]:
    """Build the valid product `index` at `version` (pure function of its arguments)."""
    hb = _digest(seed, index, "base")  # attributes stable across versions
    hv = _digest(seed, index, f"v{version}")  # attributes that may move with a version bump
    pid = f"SERP-{index:07d}"
    created = T0 + index
    updated = created + BASE_UPDATE_DELAY if updated_at is None else updated_at

    ptype = _PRODUCT_TYPES[hb[0] % 5]
    city = _CITIES[hb[1] % len(_CITIES)]
    adj = _ADJECTIVES[hb[2] % len(_ADJECTIVES)]
    subject = _SUBJECTS[hb[3] % len(_SUBJECTS)]
    noun = _NOUNS[ptype][hb[4] % 3]
    lang = "zh-TW" if hb[5] < 128 else ("en-US" if hb[5] < 205 else "ja-JP")
    # 37 is coprime with 900, so every version bump changes the suffix.
    suffix = 100 + ((hb[6] << 8 | hb[7]) + 37 * version) % 900
    inc = (_INCLUDES[hb[8] % 6], _INCLUDES[(hb[8] % 6 + 1 + hb[9] % 5) % 6])

    translations: dict[str, dict[str, str]] = {}
    others = [lg for lg in LANGUAGES if lg != lang]
    if hb[10] & 1:
        others.reverse()
    for lg in others[: hb[11] % 3]:
        translations[lg] = {
            "name": _name(lg, city, adj, subject, noun, suffix),
            "description": _description(lg, city, adj, subject, noun, inc),
        }

    # TWD 500..20,400 in steps of 100; each version moves it by a different 0..40%.
    base_twd = (5 + (hb[12] << 8 | hb[13]) % 200) * 100
    twd = base_twd * (100 + (37 * version) % 41) / 100
    currencies = _CURRENCY_ORDERS[hb[14] % 4][: 1 + hb[15] % 3]
    sale_at = (1 + hv[0] % (len(currencies) - 1)) if len(currencies) > 1 and hv[1] < 100 else -1
    prices = []
    for k, cur in enumerate(currencies):
        amount = twd * _CURRENCY_RATE[cur]
        if k == sale_at:
            start = created + 86400 * (30 + hv[2] % 300)
            prices.append({
                "amount": _money(amount * 0.85, cur),
                "currency": cur,
                "priceType": "Sale",
                "validFrom": iso(start),
                "validTo": iso(start + 86400 * (14 + hv[3] % 47)),
            })
        else:
            dated = hb[16 + k] < 64
            prices.append({
                "amount": _money(amount, cur),
                "currency": cur,
                "priceType": "Base",
                "validFrom": iso(created) if dated else None,
                "validTo": None,
            })

    images = [
        {"url": f"https://img.serp.example/{pid}/{k}.jpg", "isPrimary": k == 1, "order": k}
        for k in range(1, 2 + hb[20] % 3)
    ]
    # 7 is coprime with 41, so every version bump changes the seat count.
    seats = None if hb[21] < 51 else (hb[22] % 41 + 7 * version) % 41
    status = "Published" if hb[23] < 205 else ("Draft" if hb[23] < 235 else "Archived")
    return {
        "id": pid,
        "name": _name(lang, city, adj, subject, noun, suffix),
        "description": _description(lang, city, adj, subject, noun, inc),
        "language": lang,
        "translations": translations,
        "productType": ptype,
        "category": _CATEGORIES[ptype][hb[24] % len(_CATEGORIES[ptype])],
        "prices": prices,
        "images": images,
        "availableSeats": seats,
        "status": status,
        "isActive": hb[25] < 230,
        "createdAt": iso(created),
        "updatedAt": iso(updated),
    }


@dataclass(frozen=True)
class _MatchSet:
    """Sorted matching indexes: `extras` (all < lo), then [lo, n) minus `holes`."""

    extras: tuple[int, ...]
    lo: int
    n: int
    holes: tuple[int, ...]

    @property
    def total(self) -> int:
        return len(self.extras) + (self.n - self.lo) - len(self.holes)

    def slice(self, start: int, count: int) -> list[int]:
        out: list[int] = []
        end = min(start + count, self.total)
        pos = start
        while pos < end and pos < len(self.extras):
            out.append(self.extras[pos])
            pos += 1
        if pos >= end:
            return out
        q = pos - len(self.extras)
        # Least x in [lo, n) with exactly q non-holes in [lo, x) and x not a hole.
        x = self.lo + q
        while True:
            nx = self.lo + q + bisect_right(self.holes, x)
            if nx == x:
                break
            x = nx
        h = bisect_right(self.holes, x)
        while pos < end:
            while h < len(self.holes) and self.holes[h] == x:
                x += 1
                h += 1
            out.append(x)
            x += 1
            pos += 1
        return out


class SerpCatalog:
    """Deterministic, lazily generated SERP product catalog with mutations."""

    # Enough for a 100k-product benchmark to be served from memory, like a supplier's own cache.
    CACHE_LIMIT = 250_000

    def __init__(self, product_count: int = 1000, seed: int = 42, invalid_rate: float = 0.0) -> None:
        if not 0 <= product_count <= MAX_PRODUCTS:
            raise ValueError(f"product_count must be within 0..{MAX_PRODUCTS}")
        self.product_count = product_count
        self.seed = seed
        self._lock = threading.RLock()
        self._invalid_ppm = 0
        self._versions: dict[int, int] = {}
        self._updated: dict[int, int] = {}  # index -> updatedAt epoch seconds, changed products only
        self._deleted: set[int] = set()
        self._edits: dict[int, dict[str, Any]] = {}  # index -> fields a supplier rewrote (edit)
        self._generation = 0
        # Changes are stamped after every base updatedAt so they always look newer.
        self._last_stamp = T0 + BASE_UPDATE_DELAY + max(product_count - 1, 0)
        self._mutation_rng = random.Random(f"{seed}:mutations")
        self._bytes: dict[int, bytes] = {}
        self._matches: dict[tuple[float | None, int], _MatchSet] = {}
        self.set_invalid_rate(invalid_rate)

    # -- configuration -------------------------------------------------
    @property
    def invalid_rate(self) -> float:
        return self._invalid_ppm / _PPM

    def set_invalid_rate(self, rate: float) -> None:
        """Serve round(rate * N) products, evenly spread by index, invalid."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("invalid_rate must be within 0..1")
        with self._lock:
            self._invalid_ppm = round(rate * _PPM)
            self._bytes.clear()

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def deleted_count(self) -> int:
        return len(self._deleted)

    @property
    def changed_count(self) -> int:
        return len(self._versions)

    # -- product access ------------------------------------------------
    def invalid_kind(self, index: int) -> str | None:
        """Which invalid kind product `index` is served with, if any."""
        p = self._invalid_ppm
        if not p or (index + 1) * p // _PPM == index * p // _PPM:
            return None
        kind = INVALID_KINDS[(index * p // _PPM) % len(INVALID_KINDS)]
        if kind == "duplicate_id" and index == 0:
            return "missing_name"
        return kind

    def product(self, index: int) -> dict[str, Any]:
        """The product at `index` as currently served (ignores deletion)."""
        with self._lock:
            data = generate_product(self.seed, index, self._versions.get(index, 0), self._updated.get(index))
            data.update(self._edits.get(index, {}))
            kind = self.invalid_kind(index)
        if kind == "missing_name":
            del data["name"]
        elif kind == "negative_price":
            data["prices"] = [{**data["prices"][0], "amount": "-10.00"}]
        elif kind == "bad_currency":
            data["prices"] = [{**data["prices"][0], "currency": "XX1"}]
        elif kind == "bad_status":
            data["status"] = "Live"
        elif kind == "duplicate_id":
            data["id"] = f"SERP-{index - 1:07d}"
        return data

    def product_bytes(self, index: int) -> bytes:
        """Serialized product, cached until the product changes."""
        with self._lock:
            body = self._bytes.get(index)
            if body is None:
                body = orjson.dumps(self.product(index))
                if len(self._bytes) >= self.CACHE_LIMIT:
                    del self._bytes[next(iter(self._bytes))]
                self._bytes[index] = body
            return body

    def warm_cache(self) -> int:
        """Serialize the catalog (up to CACHE_LIMIT products) now rather than on first request; returns how many."""
        count = min(self.product_count, self.CACHE_LIMIT)
        for index in range(count):
            self.product_bytes(index)
        return count

    def index_for_id(self, product_id: str) -> int | None:
        """Index of the live product served under `product_id` (lowest index wins)."""
        m = _ID_RE.fullmatch(product_id)
        if not m:
            return None
        i = int(m.group(1))
        with self._lock:
            if i < self.product_count and i not in self._deleted and self.invalid_kind(i) != "duplicate_id":
                return i
            j = i + 1
            if j < self.product_count and j not in self._deleted and self.invalid_kind(j) == "duplicate_id":
                return j
        return None

    def updated_at(self, index: int) -> int:
        return self._updated.get(index, T0 + BASE_UPDATE_DELAY + index)

    # -- listing -------------------------------------------------------
    def matches(self, updated_since: float | None = None) -> _MatchSet:
        """Live products with updatedAt > updated_since, in (createdAt, id) order."""
        with self._lock:
            key = (updated_since, self._generation)
            found = self._matches.get(key)
            if found is not None:
                return found
            n = self.product_count
            if updated_since is None:
                lo = 0
            else:
                # base updatedAt(i) = B + i > t  <=>  i >= floor(t - B) + 1
                lo = min(max(int((updated_since - T0 - BASE_UPDATE_DELAY) // 1) + 1, 0), n)
            extras = tuple(sorted(
                i for i, u in self._updated.items()
                if i < lo and i not in self._deleted and (updated_since is None or u > updated_since)
            ))
            holes = tuple(sorted(i for i in self._deleted if i >= lo))
            found = _MatchSet(extras, lo, n, holes)
            if len(self._matches) > 32 or any(g != self._generation for _, g in self._matches):
                self._matches.clear()
            self._matches[key] = found
            return found

    def page_body(self, page: int, page_size: int, updated_since: float | None = None) -> bytes:
        """The full JSON body for one listing page."""
        with self._lock:
            ms = self.matches(updated_since)
            total = ms.total
            indexes = ms.slice((page - 1) * page_size, page_size) if (page - 1) * page_size < total else []
            frags = [self.product_bytes(i) for i in indexes]
        has_next = page * page_size < total
        return b"".join((
            b'{"products":[', b",".join(frags),
            b'],"page":%d,"pageSize":%d,"totalCount":%d,"hasNextPage":%s}'
            % (page, page_size, total, b"true" if has_next else b"false"),
        ))

    # -- mutations -----------------------------------------------------
    def _next_stamp(self, now: float | None) -> int:
        t = int(time.time() if now is None else now)
        self._last_stamp = max(t, self._last_stamp + 1)
        return self._last_stamp

    def _pick(self, count: int) -> list[int]:
        n = self.product_count
        count = min(count, n - len(self._deleted))
        chosen: set[int] = set()
        for k in range(count):
            # One pick per stratum spreads the changes over the whole id range.
            j = self._mutation_rng.randrange(k * n // count, (k + 1) * n // count)
            while j in self._deleted or j in chosen:
                j = (j + 1) % n
            chosen.add(j)
        return sorted(chosen)

    def _indexes(self, ids: Iterable[str]) -> list[int]:
        out = set()
        for pid in ids:
            i = self.index_for_id(pid)
            if i is not None:
                out.add(i)
        return sorted(out)

    def _apply_change(self, indexes: list[int], now: float | None) -> list[str]:
        if not indexes:
            return []
        stamp = self._next_stamp(now)
        for i in indexes:
            self._versions[i] = self._versions.get(i, 0) + 1
            self._updated[i] = stamp
            self._bytes.pop(i, None)
        self._generation += 1
        return [f"SERP-{i:07d}" for i in indexes]

    def change(self, count: int, now: float | datetime | None = None) -> list[str]:
        """Bump `count` live products (seeded, spread over the range); returns their ids."""
        with self._lock:
            return self._apply_change(self._pick(count), _epoch(now))

    def change_ids(self, ids: Iterable[str], now: float | datetime | None = None) -> list[str]:
        """Bump the given live products; unknown or deleted ids are skipped."""
        with self._lock:
            return self._apply_change(self._indexes(ids), _epoch(now))

    def edit(self, product_id: str, fields: dict[str, Any], now: float | datetime | None = None) -> bool:
        """The supplier rewrites fields of a live product (any JSON values, e.g. a description with HTML);
        it is bumped like a change. False for an unknown or deleted id."""
        with self._lock:
            indexes = self._indexes([product_id])
            if not indexes:
                return False
            self._edits[indexes[0]] = {**self._edits.get(indexes[0], {}), **fields}
            self._apply_change(indexes, _epoch(now))
            return True

    def delete(self, count_or_ids: int | Iterable[str]) -> list[str]:
        """Delete `count` seeded picks or the given ids; returns the deleted ids."""
        with self._lock:
            if isinstance(count_or_ids, int):
                indexes = self._pick(count_or_ids)
            else:
                indexes = self._indexes(count_or_ids)
            if not indexes:
                return []
            for i in indexes:
                self._deleted.add(i)
                self._bytes.pop(i, None)
            self._generation += 1
            return [f"SERP-{i:07d}" for i in indexes]


def _epoch(now: float | datetime | None) -> float | None:
    if isinstance(now, datetime):
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        return now.timestamp()
    return now


@dataclass
class SerpFaults:
    """Request-level and data-level fault injection (all off by default)."""

    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after_seconds: int = 1
    slow_rate: float = 0.0
    slow_seconds: float = 2.0
    truncate_rate: float = 0.0
    invalid_rate: float = 0.0
    fault_seed: int = 0

    def __post_init__(self) -> None:
        for name in ("error_rate", "rate_limit_rate", "slow_rate", "truncate_rate", "invalid_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within 0..1")

    def describe(self) -> str:
        active = [f"{k}={v}" for k, v in asdict(self).items() if k.endswith("_rate") and v]
        return ", ".join(active) if active else "none"


@dataclass
class _Draw:
    kind: str | None  # "error" | "rate_limit" | None
    status: int
    slow: bool
    truncate: bool


class _FaultSource:
    """Draws a fixed number of values per request so the sequence is reproducible."""

    def __init__(self, faults: SerpFaults) -> None:
        self.faults = faults
        self._rng = random.Random(faults.fault_seed)
        self._lock = threading.Lock()

    def draw(self) -> _Draw:
        f = self.faults
        with self._lock:
            u_kind, u_code, u_slow, u_trunc = (self._rng.random() for _ in range(4))
        kind = None
        if u_kind < f.error_rate:
            kind = "error"
        elif u_kind < f.error_rate + f.rate_limit_rate:
            kind = "rate_limit"
        return _Draw(kind, (500, 502, 503)[int(u_code * 3)], u_slow < f.slow_rate, u_trunc < f.truncate_rate)


def _path_kind(path: str) -> str:
    if path == "/v1/products":
        return "list"
    if path.startswith("/v1/products/"):
        return "get"
    if path.startswith("/_sim/"):
        return "sim"
    return "other"


class _Stats:
    def __init__(self) -> None:
        self.requests: dict[str, dict[str, int]] = {}
        self.faults: dict[str, int] = {"error": 0, "rate_limit": 0, "slow": 0, "truncate": 0}
        self._lock = threading.Lock()

    def record(self, kind: str, status: int) -> None:
        with self._lock:
            by_status = self.requests.setdefault(kind, {})
            by_status[str(status)] = by_status.get(str(status), 0) + 1

    def fault(self, name: str) -> None:
        with self._lock:
            self.faults[name] += 1


class _StatsMiddleware:
    """Counts every HTTP response by path kind and status code."""

    def __init__(self, app: ASGIApp, stats: _Stats) -> None:
        self.app = app
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kind = _path_kind(scope["path"])

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.stats.record(kind, message["status"])
            await send(message)

        await self.app(scope, receive, counting_send)


def _send_webhooks(url: str, secret: str, ids: list[str], event_type: str) -> dict[str, int]:
    statuses: dict[str, int] = {}
    with httpx.Client(timeout=10) as client:
        for product_id in ids:
            body = orjson.dumps({"eventId": f"evt_{uuid.uuid4().hex}", "eventType": event_type,
                                 "productId": product_id, "occurredAt": iso(time.time())})
            stamp = str(int(time.time()))
            digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            answer = client.post(url, content=body, headers={"X-Serp-Timestamp": stamp,
                                                             "X-Serp-Signature": f"sha256={digest}",
                                                             "Content-Type": "application/json"})
            statuses[str(answer.status_code)] = statuses.get(str(answer.status_code), 0) + 1
    return statuses


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, headers=headers, media_type="application/json")


def create_app(
    catalog: SerpCatalog, faults: SerpFaults | None = None, api_key: str = "serp-local-key"
) -> Starlette:
    """Starlette app serving `catalog` with `faults` behind `X-Api-Key: api_key`."""
    faults = faults or SerpFaults()
    if faults.invalid_rate:
        catalog.set_invalid_rate(faults.invalid_rate)
    source = _FaultSource(faults)
    stats = _Stats()

    async def gate(request: Request) -> tuple[Response | None, _Draw | None]:
        """Auth check, then the request's fault draw (errors, 429, delay)."""
        if request.headers.get("x-api-key") != api_key:
            return _json({"error": "unauthorized"}, 401), None
        d = source.draw()
        if d.slow:
            stats.fault("slow")
            await asyncio.sleep(faults.slow_seconds)
        if d.kind == "error":
            stats.fault("error")
            if d.status == 502:
                return Response(b"<html><body><h1>502 Bad Gateway</h1></body></html>", 502, media_type="text/html"), d
            return _json({"error": "internal_error" if d.status == 500 else "service_unavailable"}, d.status), d
        if d.kind == "rate_limit":
            stats.fault("rate_limit")
            headers = {"Retry-After": str(faults.retry_after_seconds)}
            return _json({"error": "rate_limited"}, 429, headers), d
        return None, d

    async def list_products(request: Request) -> Response:
        early, d = await gate(request)
        if early is not None:
            return early
        q = request.query_params
        try:
            page = int(q.get("page", "1"))
            if page < 1:
                raise ValueError
        except ValueError:
            return _json({"error": "page must be an integer >= 1", "field": "page"}, 400)
        try:
            page_size = int(q.get("pageSize", str(DEFAULT_PAGE_SIZE)))
            if not 1 <= page_size <= MAX_PAGE_SIZE:
                raise ValueError
        except ValueError:
            return _json({"error": f"pageSize must be an integer within 1..{MAX_PAGE_SIZE}", "field": "pageSize"}, 400)
        since: float | None = None
        if "updatedSince" in q:
            try:
                since = parse_iso(q["updatedSince"])
            except ValueError:
                return _json(
                    {"error": "updatedSince must be ISO-8601 with Z or an offset", "field": "updatedSince"}, 400
                )
        body = catalog.page_body(page, page_size, since)
        if d is not None and d.truncate:
            stats.fault("truncate")
            body = body[: len(body) // 2]
        return Response(body, media_type="application/json")

    async def get_product(request: Request) -> Response:
        early, _ = await gate(request)
        if early is not None:
            return early
        index = catalog.index_for_id(request.path_params["product_id"])
        if index is None:
            return _json({"error": "not_found"}, 404)
        return Response(catalog.product_bytes(index), media_type="application/json")

    async def _sim_body(request: Request) -> dict[str, Any] | Response:
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            return _json({"error": "body must be JSON"}, 400)
        if not isinstance(body, dict):
            return _json({"error": "body must be a JSON object"}, 400)
        count, ids = body.get("count"), body.get("ids")
        if ids is not None:
            if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
                return _json({"error": "ids must be a list of strings", "field": "ids"}, 400)
        elif not isinstance(count, int) or isinstance(count, bool) or count < 0:
            return _json({"error": "give count (int >= 0) or ids", "field": "count"}, 400)
        return body

    async def sim_change(request: Request) -> Response:
        body = await _sim_body(request)
        if isinstance(body, Response):
            return body
        if body.get("ids") is not None:
            changed = catalog.change_ids(body["ids"])
        else:
            changed = catalog.change(body["count"])
        return _json({"changed": changed})

    async def sim_webhooks(request: Request) -> Response:
        """Send signed webhooks (docs/protocols/serp-supplier.md) for `ids` to `url`, as the supplier would."""
        try:
            body = orjson.loads(await request.body() or b"{}")
            url, secret, ids = body["url"], body["secret"], list(body["ids"])
            event_type = body.get("eventType", "product.updated")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return _json({"error": "give url, secret and ids (and eventType)"}, 400)
        statuses = await run_in_threadpool(_send_webhooks, url, secret, ids, event_type)
        return _json({"sent": len(ids), "statuses": statuses})

    async def sim_delete(request: Request) -> Response:
        body = await _sim_body(request)
        if isinstance(body, Response):
            return body
        deleted = catalog.delete(body["ids"] if body.get("ids") is not None else body["count"])
        return _json({"deleted": deleted})

    async def sim_stats(request: Request) -> Response:
        with stats._lock:
            requests = {k: dict(v) for k, v in stats.requests.items()}
            injected = dict(stats.faults)
        return _json({
            "requests": requests,
            "faults_injected": injected,
            "product_count": catalog.product_count,
            "deleted_count": catalog.deleted_count,
            "changed_count": catalog.changed_count,
            "generation": catalog.generation,
        })

    app = Starlette(
        routes=[
            Route("/v1/products", list_products, methods=["GET"]),
            Route("/v1/products/{product_id}", get_product, methods=["GET"]),
            Route("/_sim/change", sim_change, methods=["POST"]),
            Route("/_sim/delete", sim_delete, methods=["POST"]),
            Route("/_sim/webhooks", sim_webhooks, methods=["POST"]),
            Route("/_sim/stats", sim_stats, methods=["GET"]),
        ],
        middleware=[Middleware(_StatsMiddleware, stats=stats)],
    )
    app.state.catalog = catalog
    app.state.faults = faults
    app.state.stats = stats
    return app


# -- CLI ---------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags for `hub simulate serp` / `python -m simulators.serp_supplier`."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--products", type=int, default=1000, help="catalog size (up to 1,000,000+)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--api-key", default=os.environ.get("SERP_API_KEY", "serp-local-key"))
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of /v1 requests answered 5xx")
    parser.add_argument("--rate-limit-rate", type=float, default=0.0, help="fraction answered 429")
    parser.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on 429")
    parser.add_argument("--slow-rate", type=float, default=0.0, help="fraction of requests delayed")
    parser.add_argument("--slow-seconds", type=float, default=2.0)
    parser.add_argument("--truncate-rate", type=float, default=0.0, help="fraction of pages cut in half")
    parser.add_argument("--invalid-rate", type=float, default=0.0, help="fraction of products served invalid")
    parser.add_argument("--fault-seed", type=int, default=0)
    parser.add_argument("--warm-cache", action="store_true",
                        help="serialize the catalog before serving, as a supplier serves from its own cache "
                        "(the catalog benchmark uses it: the supplier's work is not the pipeline's)")


def run(args: argparse.Namespace) -> None:
    """Serve the simulator in the foreground until Ctrl-C."""
    from simulators.asgi_server import serve_forever

    faults = SerpFaults(
        error_rate=args.error_rate,
        rate_limit_rate=args.rate_limit_rate,
        retry_after_seconds=args.retry_after,
        slow_rate=args.slow_rate,
        slow_seconds=args.slow_seconds,
        truncate_rate=args.truncate_rate,
        invalid_rate=args.invalid_rate,
        fault_seed=args.fault_seed,
    )
    catalog = SerpCatalog(args.products, args.seed)
    if args.warm_cache:
        started = time.perf_counter()
        warmed = catalog.warm_cache()
        print(f"SERP supplier simulator: {warmed:,} products serialized in {time.perf_counter() - started:.1f}s",
              flush=True)
    app = create_app(catalog, faults, api_key=args.api_key)
    print(
        f"SERP supplier simulator on http://{args.host}:{args.port} "
        f"({args.products} products, seed {args.seed}; faults: {faults.describe()})",
        flush=True,
    )
    serve_forever(app, args.host, args.port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.serp_supplier", description=__doc__)
    add_arguments(parser)
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
