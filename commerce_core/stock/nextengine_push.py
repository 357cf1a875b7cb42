"""Next Engine stock push (在庫連携): the GET webhook Next Engine calls on a stock change.

Protocol: docs/protocols/nextengine.md, section "Stock push". This module
is plain Python (no dagster) so the Starlette edge service can use it directly:

    push = verify_push(scope["query_string"], auth_keys, now)   # or PushRejected
    body = response_xml(push.arguments, PROCESSED_OK)           # CONTENT_TYPE

`verify_push` checks everything that can be checked without storage: every
parameter present exactly once, a known store account, `Stock` a non-negative
integer or empty ("unlimited", not 0), `ts` 12 or 14 Japan-time digits inside
[now - 1 day, now + 1 day 10 minutes], and `.sig` = md5 over the percent-decoded
value bytes plus the shop's key. Recording, replay de-duplication and the
out-of-order rule (older `ts` for the same Code does not overwrite) belong to
the caller.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote_to_bytes

PROCESSED_OK = 0
PROCESSED_CLIENT_ERROR = -2
PROCESSED_SYSTEM_ERROR = -3
PARAMETER_ORDER = ("StoreAccount", "Code", "Stock", "ts", ".sig")
JST = timezone(timedelta(hours=9))
CONTENT_TYPE = "text/xml; charset=EUC-JP"

MAX_PAST = timedelta(days=1)
MAX_FUTURE = timedelta(days=1, minutes=10)
MAX_STOCK = 2**63 - 1  # fits a BIGINT column

_SIGNED = PARAMETER_ORDER[:4]
_TS_RE = re.compile(r"[0-9]{12}(?:[0-9]{2})?")
_STOCK_RE = re.compile(r"[0-9]+")
_PROCESSED = (PROCESSED_OK, PROCESSED_CLIENT_ERROR, PROCESSED_SYSTEM_ERROR)


class PushRejected(Exception):
    """A client error (-2): .reason names the parameter and the rule (e.g. "ts: more than one day in the past").

    .arguments holds whatever parameters were readable, for the XML echo.
    """

    def __init__(self, reason: str, arguments: Sequence[tuple[str, str]] = ()):
        super().__init__(reason)
        self.reason = reason
        self.arguments: tuple[tuple[str, str], ...] = tuple(arguments)


@dataclass(frozen=True)
class StockPush:
    store_account: str  # decoded for display/storage: UTF-8, falling back to EUC-JP
    code: str  # the SKU, decoded the same way
    stock: int | None  # None = empty Stock = unlimited / made to order (NOT 0)
    ts: str  # as sent (12 or 14 digits)
    sent_at: datetime  # ts interpreted in Japan time, as an aware UTC datetime
    signature: str  # the .sig, lowercase hex (normalised, so replays de-duplicate)
    arguments: tuple[tuple[str, str], ...]  # (name, decoded value) in PARAMETER_ORDER, for the XML echo


def raw_arguments(query_string: bytes) -> list[tuple[str, bytes]]:
    """Split a raw query string (bytes, as received, still percent-encoded; '+' means space) into (name, percent-decoded value bytes) pairs in the order sent."""
    pairs: list[tuple[str, bytes]] = []
    for part in bytes(query_string).split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        pairs.append((decode_value(_unquote(name)), _unquote(value)))
    return pairs


def _unquote(raw: bytes) -> bytes:
    return unquote_to_bytes(raw.replace(b"+", b" "))


def decode_value(value: bytes) -> str:
    """UTF-8, else EUC-JP, else latin-1 (never raises)."""
    for encoding in ("utf-8", "euc_jp"):
        try:
            return value.decode(encoding)
        except UnicodeDecodeError:
            pass
    return value.decode("latin-1")


def parse_ts(ts: str) -> datetime:
    """'YYYYMMDDhhmm' or 'YYYYMMDDhhmmss' in Japan time -> aware UTC datetime; PushRejected("ts: ...") otherwise."""
    if not isinstance(ts, str) or not _TS_RE.fullmatch(ts):
        raise PushRejected(f"ts: not 12 or 14 digits (YYYYMMDDhhmm[ss]): {ts!r}")
    try:
        local = datetime(
            int(ts[0:4]), int(ts[4:6]), int(ts[6:8]), int(ts[8:10]), int(ts[10:12]),
            int(ts[12:14] or 0), tzinfo=JST,
        )
    except ValueError as exc:
        raise PushRejected(f"ts: not a valid date and time: {ts!r} ({exc})") from None
    return local.astimezone(timezone.utc)


def expected_signature(values: Mapping[str, bytes], auth_key: str) -> str:
    """md5( b"StoreAccount=" + v + b"&Code=" + v + b"&Stock=" + v + b"&ts=" + v + auth_key.encode() ).hexdigest() over the percent-decoded value bytes."""
    message = b"&".join(name.encode("ascii") + b"=" + bytes(values[name]) for name in _SIGNED)
    return hashlib.md5(message + auth_key.encode("utf-8")).hexdigest()


def readable_arguments(query_string: bytes) -> tuple[tuple[str, str], ...]:
    """The contract's parameters that can be read (first occurrence), decoded, in PARAMETER_ORDER; never raises."""
    try:
        pairs = raw_arguments(query_string)
    except Exception:
        return ()
    first: dict[str, bytes] = {}
    for name, value in pairs:
        if name in PARAMETER_ORDER:
            first.setdefault(name, value)
    return tuple((name, decode_value(first[name])) for name in PARAMETER_ORDER if name in first)


def verify_push(query_string: bytes, auth_keys: Mapping[str, str], now: datetime) -> StockPush:
    """Every check of the contract; raises PushRejected naming the rule. Unknown extra parameters are ignored."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    echo = readable_arguments(query_string)

    def reject(reason: str) -> PushRejected:
        return PushRejected(reason, echo)

    values: dict[str, bytes] = {}
    for name, value in raw_arguments(query_string):
        if name not in PARAMETER_ORDER:
            continue
        if name in values:
            raise reject(f"{name}: sent more than once")
        values[name] = value
    for name in PARAMETER_ORDER:
        if name not in values:
            raise reject(f"{name}: missing")

    store_account = decode_value(values["StoreAccount"])
    auth_key = auth_keys.get(store_account)
    if auth_key is None:
        raise reject(f"StoreAccount: unknown store account {store_account!r}")

    code = decode_value(values["Code"])
    if not code:
        raise reject("Code: empty")

    stock_text = decode_value(values["Stock"])
    if stock_text == "":
        stock = None  # made to order / unlimited, not 0
    elif not _STOCK_RE.fullmatch(stock_text):
        raise reject(f"Stock: not a non-negative integer: {stock_text!r}")
    else:
        digits = stock_text.lstrip("0") or "0"
        if len(digits) > 19 or int(digits) > MAX_STOCK:
            raise reject(f"Stock: larger than {MAX_STOCK}")
        stock = int(digits)

    ts = decode_value(values["ts"])
    try:
        sent_at = parse_ts(ts)
    except PushRejected as exc:
        raise reject(exc.reason) from None
    if sent_at < now - MAX_PAST:
        raise reject("ts: more than one day in the past")
    if sent_at > now + MAX_FUTURE:
        raise reject("ts: more than one day and ten minutes in the future")

    expected = expected_signature(values, auth_key).encode("ascii")
    sent_sig = values[".sig"].lower()  # bytes.lower(): ASCII letters only
    if not hmac.compare_digest(sent_sig, expected):
        raise reject(".sig: signature does not match")

    return StockPush(
        store_account=store_account,
        code=code,
        stock=stock,
        ts=ts,
        sent_at=sent_at,
        signature=sent_sig.decode("ascii"),
        arguments=tuple((name, decode_value(values[name])) for name in PARAMETER_ORDER),
    )


# --- response ---------------------------------------------------------------

_XML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;",
                # attribute-value normalisation would turn these into spaces
                "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}


def _xml_char_allowed(cp: int) -> bool:
    return (cp >= 0x20 and cp <= 0xD7FF) or cp in (0x9, 0xA, 0xD) or 0xE000 <= cp <= 0xFFFD or 0x10000 <= cp <= 0x10FFFF


def _attribute(value: str) -> str:
    """Escape for a double-quoted attribute; anything EUC-JP cannot carry exactly becomes &#N;."""
    out: list[str] = []
    for char in str(value):
        if char in _XML_ESCAPES:
            out.append(_XML_ESCAPES[char])
            continue
        cp = ord(char)
        if not _xml_char_allowed(cp):
            out.append("&#65533;")  # not representable in XML 1.0 at all, even as a reference: U+FFFD
            continue
        if cp < 0x80:
            out.append(char)
            continue
        try:
            exact = char.encode("euc_jp").decode("euc_jp") == char  # e.g. U+00A5 would come back as '\'
        except UnicodeError:
            exact = False
        out.append(char if exact else f"&#{cp};")
    return "".join(out)


def response_xml(arguments: Sequence[tuple[str, str]], processed: int) -> bytes:
    """The contract's ShoppingUpdateStock XML, EUC-JP encoded, every echoed value escaped for an XML attribute."""
    if processed not in _PROCESSED:
        raise ValueError(f"processed must be one of {_PROCESSED}, not {processed!r}")
    lines = [
        '<?xml version="1.0" encoding="EUC-JP"?>',
        '<ShoppingUpdateStock version="1.0">',
        '  <ResultSet TotalResult="1">',
        "    <Request>",
    ]
    for name, value in arguments:
        lines.append(f'      <Argument Name="{_attribute(name)}" Value="{_attribute(value)}" />')
    lines += [
        "    </Request>",
        f'    <Result No="1"><Processed>{int(processed)}</Processed></Result>',
        "  </ResultSet>",
        "</ShoppingUpdateStock>",
        "",
    ]
    return "\n".join(lines).encode("euc_jp")
