"""OpenAPI 3.1 description of the stock service (served at /openapi.json)."""

_ERROR = {"type": "object", "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                                           "field": {"type": "string"}}}
_RESERVATION = {"type": "object", "properties": {
    "orderId": {"type": "string"}, "sku": {"type": "string"}, "quantity": {"type": "integer"},
    "status": {"enum": ["open", "confirmed", "released", "expired"]}, "expiresAt": {"type": "string"}}}
_LEVEL = {"type": "object", "properties": {
    "sku": {"type": "string"}, "available": {"type": ["integer", "null"], "description": "null = unlimited"},
    "onHand": {"type": "integer"}, "reserved": {"type": "integer"}, "unlimited": {"type": "boolean"}}}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_SETTLE_RESPONSES = {
    "200": _json(_RESERVATION, "done (also for a retry: the first answer)"),
    "400": _json(_ERROR, "bad order id"),
    "404": _json(_ERROR, "no reservation for this order"),
    "409": _json(_ERROR, "the reservation is in another state (e.g. released orders cannot be confirmed)"),
}

OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Commerce Hub stock service", "version": "1",
             "description": "Low-latency stock reservations (docs/background.md). Every write is idempotent by its key: "
                            "a retried request gets the first answer and changes nothing."},
    "paths": {
        "/stock/{sku}/reservations": {"post": {
            "summary": "Reserve (decrease) stock for an order",
            "parameters": [{"name": "sku", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["orderId", "userId", "quantity"], "properties": {
                    "orderId": {"type": "string", "description": "idempotency key"},
                    "userId": {"type": "string", "description": "one order per second per user"},
                    "quantity": {"type": "integer", "minimum": 1}}}}}},
            "responses": {
                "201": _json(_RESERVATION, "reserved; recorded in the ledger before this answer"),
                "400": _json(_ERROR, "bad input, naming the field"),
                "404": _json(_ERROR, "no stock kept for this SKU"),
                "409": _json({"type": "object", "properties": {"error": {"const": "out_of_stock"},
                                                               "available": {"type": "integer"}}},
                             "not enough stock; `available` says how much there is"),
                "429": _json(_ERROR, "the user ordered less than a second ago (Retry-After)"),
                "503": _json(_ERROR, "not recorded (database unavailable or the same order is in flight); retry"),
            }}},
        "/reservations/{order_id}/release": {"post": {
            "summary": "Release (restore) an open reservation, e.g. on cancellation",
            "parameters": [{"name": "order_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": _SETTLE_RESPONSES}},
        "/reservations/{order_id}/confirm": {"post": {
            "summary": "Confirm (claim) an open reservation when the order is paid",
            "parameters": [{"name": "order_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": _SETTLE_RESPONSES}},
        "/stock/{sku}": {"get": {
            "summary": "One SKU's stock (cached for 2 s, invalidated by every write)",
            "parameters": [{"name": "sku", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": _json(_LEVEL, "stock"), "404": _json(_ERROR, "unknown SKU")}}},
        "/stock": {
            "get": {"summary": "Low-stock SKUs: available below a threshold",
                    "parameters": [{"name": "below", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                               "default": 10}}],
                    "responses": {"200": _json({"type": "object", "properties": {
                        "below": {"type": "integer"}, "items": {"type": "array", "items": _LEVEL}}}, "SKUs")}},
            "put": {"summary": "Bulk set on-hand stock from the catalog (null = unlimited)",
                    "parameters": [{"name": "Idempotency-Key", "in": "header", "required": True,
                                    "schema": {"type": "string"}}],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"items": {"type": "array", "maxItems": 5000, "items": {
                            "type": "object", "required": ["sku", "quantity"], "properties": {
                                "sku": {"type": "string"}, "quantity": {"type": ["integer", "null"], "minimum": 0}}}}}}}}},
                    "responses": {"200": _json({"type": "object", "properties": {"updated": {"type": "integer"}}},
                                               "applied"), "400": _json(_ERROR, "bad input, naming the field")}}},
        "/webhooks/nextengine/stock": {"get": {
            "summary": "Next Engine stock push (docs/protocols/nextengine.md): MD5-signed query, EUC-JP XML answer",
            "parameters": [{"name": name, "in": "query", "required": True, "schema": {"type": "string"}}
                           for name in ("StoreAccount", "Code", "Stock", "ts", ".sig")],
            "responses": {"200": {"description": "ShoppingUpdateStock XML; Processed 0 ok, -2 client error, "
                                                 "-3 system error", "content": {"text/xml": {}}}}}},
        "/health": {"get": {"summary": "Liveness and mode (redis or database)",
                            "responses": {"200": {"description": "up"}}}},
    },
}
