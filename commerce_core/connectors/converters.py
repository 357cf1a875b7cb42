"""Small conversions between the platforms' shapes and ours (the connector design's converters, docs/background.md).

ids: Shopline's numeric ids travel as strings in REST and as GIDs in GraphQL
(`gid://shopline/Product/123`); the unified model keeps the plain id.
pagination: REST pages are linked by a `page_info` cursor in the Link header,
GraphQL by Relay `endCursor`, Next Engine by offset; each is read here.
filters: one UnifiedFilter written in each platform's syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

_JST = timezone(timedelta(hours=9))
_GID = re.compile(r"^gid://shopline/(?P<kind>[A-Za-z]+)/(?P<id>\d+)$")
_LINK = re.compile(r'<(?P<url>[^>]+)>\s*;\s*rel="?(?P<rel>[a-z]+)"?')


def to_gid(kind: str, plain_id: str | int) -> str:
    plain = str(plain_id)
    if not plain.isdigit() or not kind.isalpha():
        raise ValueError(f"not a Shopline id: {kind!r} {plain_id!r}")
    return f"gid://shopline/{kind}/{plain}"


def from_gid(gid: str, kind: str | None = None) -> str:
    """The plain numeric id of a GID (checking its kind when given); a plain id passes through."""
    if isinstance(gid, str) and gid.isdigit():
        return gid
    match = _GID.match(gid) if isinstance(gid, str) else None
    if match is None or (kind is not None and match["kind"] != kind):
        raise ValueError(f"not a Shopline {kind or ''} id: {gid!r}".replace("  ", " "))
    return match["id"]


def next_page_info(link_header: str | None) -> str | None:
    """The `page_info` of the rel="next" link, or None on the last page."""
    for match in _LINK.finditer(link_header or ""):
        if match["rel"] == "next":
            values = parse_qs(urlsplit(match["url"]).query).get("page_info")
            return values[0] if values else None
    return None


# -- filters: one unified filter, each platform's syntax ------------------------------

@dataclass(frozen=True)
class UnifiedFilter:
    """What a connector asks for, independent of the platform."""

    updated_since: datetime | None = None
    ids: tuple[str, ...] = ()
    status: str | None = None  # Published | Draft | Archived


_SHOPLINE_STATUS = {"Published": "active", "Draft": "draft", "Archived": "archived"}


def shopline_rest_params(spec: UnifiedFilter) -> dict[str, str]:
    """Query parameters of a first REST page (with page_info, Shopline ignores them)."""
    params: dict[str, str] = {}
    if spec.updated_since is not None:
        params["updated_at_min"] = spec.updated_since.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if spec.ids:
        params["ids"] = ",".join(from_gid(i) for i in spec.ids)
    if spec.status:
        params["status"] = _SHOPLINE_STATUS[spec.status]
    return params


def shopline_graphql_query(spec: UnifiedFilter) -> str | None:
    """The `query:` argument of a GraphQL connection (Shopify-style search syntax)."""
    terms = []
    if spec.updated_since is not None:
        # Inclusive, like Next Engine's -gte: stamps have whole seconds, so a record stamped in the cursor's
        # second but stored after our read is read again next time instead of being lost.
        terms.append(f"updated_at:>='{spec.updated_since.astimezone(timezone.utc).isoformat()}'")
    if spec.ids:
        terms.append("(" + " OR ".join(f"id:{from_gid(i)}" for i in spec.ids) + ")")
    if spec.status:
        terms.append(f"status:{_SHOPLINE_STATUS[spec.status]}")
    return " AND ".join(terms) or None


def nextengine_fields(spec: UnifiedFilter, date_field: str = "goods_last_modified_date",
                      id_field: str = "goods_id") -> dict[str, str]:
    """Next Engine search fields: `<field>-gte` for dates (Japan time), `<field>-in` for id lists."""
    fields: dict[str, str] = {}
    if spec.updated_since is not None:
        fields[f"{date_field}-gte"] = spec.updated_since.astimezone(_JST).strftime("%Y-%m-%d %H:%M:%S")
    if spec.ids:
        fields[f"{id_field}-in"] = ",".join(spec.ids)
    if spec.status:
        raise ValueError("Next Engine goods have no status filter")
    return fields
