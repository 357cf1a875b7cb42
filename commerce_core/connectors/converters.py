"""Small conversions between the platforms' shapes and ours (seeds/002 converters).

ids: Shopline's numeric ids travel as strings in REST and as GIDs in GraphQL
(`gid://shopline/Product/123`); the unified model keeps the plain id.
pagination: REST pages are linked by a `page_info` cursor in the Link header,
GraphQL by Relay `endCursor`, Next Engine by offset; each is read here.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

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
