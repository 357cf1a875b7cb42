"""Webhook signatures exactly as the protocols say (docs/protocols/), over the raw body, compared in constant time.

SERP (docs/protocols/serp-supplier.md): `X-Serp-Signature: sha256=<hex HMAC-SHA256(secret,
"<timestamp>." + raw body)>` with `X-Serp-Timestamp` within 300 s of now.
Shopline (docs/protocols/shopline.md): `X-Shopline-Hmac-Sha256` = HMAC-SHA256(app secret,
raw body) as lowercase hex (the SDK's form) or base64 of the same digest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

SERP_TOLERANCE_SECONDS = 300


class WebhookRefused(Exception):
    """401: the request is not from the sender it claims (nothing is stored). `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def serp_signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_serp(headers: Mapping[str, str], body: bytes, secret: str, now: float) -> None:
    timestamp = headers.get("x-serp-timestamp", "")
    signature = headers.get("x-serp-signature", "")
    if not timestamp.isdigit():
        raise WebhookRefused("X-Serp-Timestamp: missing or not unix seconds")
    if abs(now - int(timestamp)) > SERP_TOLERANCE_SECONDS:
        raise WebhookRefused(f"X-Serp-Timestamp: more than {SERP_TOLERANCE_SECONDS} s from now")
    if not hmac.compare_digest(serp_signature(secret, timestamp, body).encode(), signature.strip().encode()):
        raise WebhookRefused("X-Serp-Signature: does not match")


def shopline_digest(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


def verify_shopline(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    given = headers.get("x-shopline-hmac-sha256", "").strip()
    if not given:
        raise WebhookRefused("X-Shopline-Hmac-Sha256: missing")
    expected = shopline_digest(secret, body)
    try:
        claimed = bytes.fromhex(given) if len(given) == 64 else base64.b64decode(given, validate=True)
    except (ValueError, binascii.Error):
        raise WebhookRefused("X-Shopline-Hmac-Sha256: neither hex nor base64") from None
    if not hmac.compare_digest(expected, claimed):
        raise WebhookRefused("X-Shopline-Hmac-Sha256: does not match")
