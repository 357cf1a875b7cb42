"""OpenAPI 3.1 description of the stock service (served at /openapi.json), generated from the routes it serves.

`describe(routes)` walks the served routes (Starlette's `Route`: `.path` and `.methods`) and takes each
operation's summary, parameters, request body and responses from OPERATIONS, keyed by (method, path
template); path parameters come from the template itself. A route without an entry, or an entry without a
route, raises: the service does not start with a description that has drifted from what it serves.
"""

from __future__ import annotations

from starlette.routing import compile_path

_ERROR = {"type": "object", "required": ["error", "message"], "properties": {
    "error": {"type": "string", "description": "machine-readable, e.g. bad_request, unknown_sku, unavailable"},
    "message": {"type": "string"}, "field": {"type": "string", "description": "the input at fault (400)"}}}
_RESERVATION = {"type": "object", "properties": {
    "orderId": {"type": "string"}, "sku": {"type": "string"}, "quantity": {"type": "integer"},
    "status": {"enum": ["open", "confirmed", "released", "expired"]},
    "expiresAt": {"type": "string", "format": "date-time"}}}
_LEVEL = {"type": "object", "properties": {
    "sku": {"type": "string"}, "available": {"type": ["integer", "null"], "description": "null = unlimited"},
    "onHand": {"type": "integer"}, "reserved": {"type": "integer"}, "unlimited": {"type": "boolean"}}}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
_SKU = {"description": "1-128 characters, no control characters or /", "schema": {"type": "string", "maxLength": 128}}
_ORDER_ID = {"description": "1-128 letters, digits or . : @ _ -", "schema": {"type": "string", "maxLength": 128}}


def _json(schema: dict, description: str, *, retry_after: bool = False) -> dict:
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if retry_after:
        response["headers"] = _RETRY_AFTER
    return response


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _header(name: str, description: str, *, required: bool = True) -> dict:
    return {"name": name, "in": "header", "required": required, "description": description,
            "schema": {"type": "string"}}


_UNAVAILABLE = _json(_ERROR, "not recorded (database unavailable); retry", retry_after=True)
_SETTLE_RESPONSES = {
    "200": _json(_RESERVATION, "done, or already in the target state (a retry gets the first answer)"),
    "400": _json(_ERROR, "bad order id (field orderId)"),
    "404": _json(_ERROR, "unknown_order: no reservation for this order"),
    "409": _json({"type": "object", "properties": {
        "error": {"type": "string", "description": "already_<status>"}, "message": {"type": "string"},
        "reservation": _RESERVATION}},
        "the reservation is in another state (e.g. released orders cannot be confirmed)"),
    "503": _UNAVAILABLE,
}
_WEBHOOK_ERRORS = {
    "400": _json(_ERROR, "bad_request: not a JSON object, or a required field (or Shopline header) missing, "
                         "named in field"),
    "401": _json(_ERROR, "unauthorized: signature missing, stale or not matching; nothing stored"),
    "413": _json(_ERROR, "too_large: body over 256 KiB"),
    "503": _json(_ERROR, "unavailable: event not stored; the sender retries"),
}

# (method, path template) -> the operation, without its path parameters (taken from the template; "path"
# may describe them by name). One entry per route and method the service serves, no more.
OPERATIONS: dict[tuple[str, str], dict] = {
    ("POST", "/stock/{sku}/reservations"): {
        "summary": "Reserve (decrease) stock for an order",
        "path": {"sku": _SKU},
        "requestBody": _body({"type": "object", "required": ["orderId", "userId", "quantity"], "properties": {
            "orderId": {"type": "string", "maxLength": 128, "description": "idempotency key"},
            "userId": {"type": "string", "maxLength": 128, "description": "one order per second per user"},
            "quantity": {"type": "integer", "minimum": 1, "maximum": 1_000_000_000}}}),
        "responses": {
            "201": _json(_RESERVATION, "reserved; recorded in the ledger before this answer (a retry gets it again)"),
            "400": _json(_ERROR, "bad_request: bad input, naming the field"),
            "404": _json(_ERROR, "unknown_sku: no stock kept for this SKU"),
            "409": _json({"type": "object", "properties": {
                "error": {"const": "out_of_stock"}, "sku": {"type": "string"}, "requested": {"type": "integer"},
                "available": {"type": "integer"}}}, "not enough stock; `available` says how much there is "
                                                     "(a retry of this order gets this answer again)"),
            "429": _json({"type": "object", "properties": {
                "error": {"const": "rate_limited"}, "message": {"type": "string"},
                "retryAfter": {"type": "number", "description": "seconds"}}},
                "the user ordered less than a second ago", retry_after=True),
            "503": _json(_ERROR, "not recorded: unavailable (database or stock cache) or in_progress "
                                 "(the same order is being decided); retry", retry_after=True),
        }},
    ("POST", "/reservations/{order_id}/release"): {
        "summary": "Release (restore) an open reservation, e.g. on cancellation",
        "path": {"order_id": _ORDER_ID}, "responses": _SETTLE_RESPONSES},
    ("POST", "/reservations/{order_id}/confirm"): {
        "summary": "Confirm (claim) an open reservation when the order is paid",
        "path": {"order_id": _ORDER_ID}, "responses": _SETTLE_RESPONSES},
    ("GET", "/stock/{sku}"): {
        "summary": "One SKU's stock (cached for 2 s, invalidated by every write)",
        "path": {"sku": _SKU},
        "responses": {"200": _json(_LEVEL, "stock"), "400": _json(_ERROR, "bad_request: bad SKU"),
                      "404": _json(_ERROR, "unknown_sku")}},
    ("GET", "/stock"): {
        "summary": "Low-stock SKUs: available below a threshold (unlimited SKUs never; at most 500, lowest first)",
        "parameters": [{"name": "below", "in": "query", "schema": {
            "type": "integer", "minimum": 1, "maximum": 1_000_000_000, "default": 10}}],
        "responses": {"200": _json({"type": "object", "properties": {
            "below": {"type": "integer"}, "items": {"type": "array", "items": _LEVEL}}}, "SKUs"),
            "400": _json(_ERROR, "bad_request: below is not an integer from 1 to 1000000000")}},
    ("PUT", "/stock"): {
        "summary": "Bulk set on-hand stock from the catalog (null = unlimited)",
        "parameters": [_header("Idempotency-Key", "1-128 letters, digits or . : @ _ -; a retry gets the first answer")],
        "requestBody": _body({"type": "object", "required": ["items"], "properties": {"items": {
            "type": "array", "minItems": 1, "maxItems": 5000, "items": {
                "type": "object", "required": ["sku", "quantity"], "properties": {
                    "sku": {"type": "string", "maxLength": 128, "description": "each SKU once"},
                    "quantity": {"type": ["integer", "null"], "minimum": 0, "maximum": 1_000_000_000}}}}}}),
        "responses": {"200": _json({"type": "object", "properties": {"updated": {"type": "integer"}}}, "applied"),
                      "400": _json(_ERROR, "bad_request: bad input (body over 1 MiB included), naming the field"),
                      "503": _UNAVAILABLE}},
    ("GET", "/webhooks/nextengine/stock"): {
        "summary": "Next Engine stock push (contracts/nextengine.md): MD5-signed query, EUC-JP XML answer",
        "parameters": [{"name": name, "in": "query", "required": True, "schema": {"type": "string"}}
                       for name in ("StoreAccount", "Code", "Stock", "ts", ".sig")],
        "responses": {"200": {"description": "ShoppingUpdateStock XML, always 200: Processed 0 ok, -2 client "
                                             "error (refused), -3 system error (not recorded)",
                              "content": {"text/xml; charset=EUC-JP": {"schema": {"type": "string"}}}}}},
    ("POST", "/webhooks/serp"): {
        "summary": "SERP supplier webhook (contracts/serp-supplier.md): stored in the inbox before the answer",
        "parameters": [_header("X-Serp-Timestamp", "unix seconds, within 300 s of now"),
                       _header("X-Serp-Signature", "sha256=<hex HMAC-SHA256(secret, timestamp + '.' + raw body)>")],
        "requestBody": _body({"type": "object", "required": ["eventId", "eventType", "productId"], "properties": {
            "eventId": {"type": "string", "minLength": 1, "description": "idempotency key"},
            "eventType": {"enum": ["product.created", "product.updated", "product.deleted",
                                   "product.price_changed", "product.availability_changed"]},
            "productId": {"type": "string", "minLength": 1}}}),
        "responses": {"202": _json({"type": "object", "properties": {
            "accepted": {"const": True}, "eventId": {"type": "string"}}}, "stored (a replay is stored once)"),
            **_WEBHOOK_ERRORS}},
    ("POST", "/webhooks/shopline"): {
        "summary": "Shopline webhook (contracts/shopline.md): stored in the inbox before the answer",
        "parameters": [_header("X-Shopline-Hmac-Sha256", "HMAC-SHA256(app secret, raw body), hex or base64"),
                       _header("X-Shopline-Webhook-Id", "idempotency key"),
                       _header("X-Shopline-Topic", "e.g. products/update, inventory_levels/update, orders/paid; "
                                                   "another topic is acknowledged and ignored", required=False)],
        "requestBody": _body({"type": "object", "description": "the topic's resource: `id` names it "
                                                               "(inventory_levels/update: `variant_id`)",
                              "properties": {"id": {"type": ["string", "integer"]},
                                             "variant_id": {"type": ["string", "integer"]}}}),
        "responses": {"200": _json({"type": "object", "properties": {
            "accepted": {"type": "boolean", "description": "false: a topic the hub does not use, not stored"},
            "ignored": {"type": "string", "description": "that topic"}}}, "stored, or acknowledged and ignored"),
            **_WEBHOOK_ERRORS}},
    ("GET", "/health"): {
        "summary": "Liveness and mode (redis or database)",
        "responses": {"200": _json({"type": "object", "properties": {
            "status": {"const": "ok"}, "mode": {"enum": ["redis", "database"]}}}, "up")}},
    ("GET", "/health/sync"): {
        "summary": "Sync health (GlobalHub sync design, docs/background.md): SERP imports, region syncs, database, Redis, dead-letter backlog",
        "responses": {status: _json({"type": "object", "properties": {
            "overallStatus": {"enum": ["Healthy", "Warning", "Critical"]},
            "timestamp": {"type": "string", "format": "date-time"},
            "checks": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "status": {"enum": ["Healthy", "Warning", "Critical"]},
                "message": {"type": "string"}, "lastRun": {"type": ["string", "null"], "format": "date-time"},
                "details": {"type": "object"}}}}}}, description)
            for status, description in (("200", "Healthy or Warning"), ("503", "Critical: the worst check"))}},
    ("GET", "/metrics"): {
        "summary": "Prometheus metrics: the service's requests and reservations, the sync series",
        "responses": {"200": {"description": "Prometheus text exposition", "content": {
            "text/plain; version=1.0.0; charset=utf-8": {"schema": {"type": "string"}}}}}},
    ("GET", "/openapi.json"): {
        "summary": "This description",
        "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document")}},
}


def served_operations(routes) -> list[tuple[str, str]]:
    """(method, path template) for every operation the routes serve, in route order. HEAD is left out where
    GET is served: Starlette adds it to every GET route and answers it as GET without a body."""
    operations = []
    for route in routes:
        methods = getattr(route, "methods", None)
        if not methods:
            raise ValueError(f"cannot describe {route!r}: not a route with path and methods")
        operations += [(method, route.path) for method in sorted(methods)
                       if not (method == "HEAD" and "GET" in methods)]
    return operations


def describe(routes) -> dict:
    """The OpenAPI document for these routes; ValueError if OPERATIONS does not describe exactly them."""
    served = served_operations(routes)
    undescribed = [operation for operation in served if operation not in OPERATIONS]
    not_served = [operation for operation in OPERATIONS if operation not in served]
    if undescribed or not_served:
        raise ValueError(f"OpenAPI description out of step with the routes: undescribed {undescribed}, "
                         f"described but not served {not_served}")
    paths: dict[str, dict] = {}
    for method, path in served:
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, OPERATIONS[method, path])
    return {
        "openapi": "3.1.0",
        "info": {"title": "Commerce Hub stock service", "version": "1",
                 "description": "Low-latency stock reservations (flash-sale stock service notes, docs/background.md) and webhook ingress. Every write is "
                                "idempotent by its key: a retried request gets the first answer and changes nothing."},
        "paths": paths,
    }


def _operation(method: str, path: str, entry: dict) -> dict:
    names = list(compile_path(path)[2])  # the template's parameters, as Starlette reads them
    described = entry.get("path", {})
    if set(described) - set(names):
        raise ValueError(f"{method} {path}: describes path parameters it does not have: {sorted(described)}")
    parameters = [{"name": name, "in": "path", "required": True, **described.get(name, {"schema": {"type": "string"}})}
                  for name in names]
    operation = {key: value for key, value in entry.items() if key != "path"}
    if parameters or "parameters" in entry:
        operation["parameters"] = parameters + entry.get("parameters", [])
    return operation
