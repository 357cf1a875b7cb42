"""Shopline client (docs/protocols/shopline.md): products through GraphQL (Relay cursors, GIDs),
orders and customers through REST (the next page's cursor is `page_info` in the Link header).
"""

from __future__ import annotations

from collections.abc import Iterator

from commerce_core.connectors.converters import from_gid, next_page_info, to_gid
from commerce_core.http.resilience import ResilientHttpClient

MAX_REST_LIMIT = 1000
MAX_GRAPHQL_FIRST = 250

PRODUCTS_QUERY = """
query Products($first: Int!, $after: String, $query: String) {
  products(first: $first, after: $after, query: $query) {
    edges { cursor node { id title descriptionHtml status updatedAt
      variants(first: 100) { edges { node { id sku price inventoryQuantity } } } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


# By id (beyond the contract, our assumption: the Shopify-compatible `nodes(ids:)` root field Shopline's
# Admin GraphQL follows): a Product GID answers the same node as the listing, a ProductVariant GID its
# product, an id the store does not have answers null.
_NODE_FIELDS = """id title descriptionHtml status updatedAt
      variants(first: 100) { edges { node { id sku price inventoryQuantity } } }"""
NODES_QUERY = f"""
query Nodes($ids: [ID!]!) {{
  nodes(ids: $ids) {{
    ... on Product {{ {_NODE_FIELDS} }}
    ... on ProductVariant {{ id product {{ {_NODE_FIELDS} }} }}
  }}
}}
"""


class ShoplineError(RuntimeError):
    """A GraphQL answer with errors, or a REST answer without the expected list."""


class ShoplineClient:
    def __init__(self, http: ResilientHttpClient, api_version: str):
        self.http = http
        self.prefix = f"/admin/openapi/{api_version}"

    def products(self, page_size: int = MAX_GRAPHQL_FIRST, search: str | None = None) -> Iterator[list[dict]]:
        """Every product node (GraphQL), a page at a time, following endCursor; `search` is the connection's
        `query:` (converters.shopline_graphql_query), kept on every page as Relay cursors require."""
        if not 1 <= page_size <= MAX_GRAPHQL_FIRST:
            raise ValueError(f"page_size must be 1..{MAX_GRAPHQL_FIRST}, got {page_size}")
        after = None
        while True:
            body = self.http.post_json(f"{self.prefix}/graphql.json",
                                       {"query": PRODUCTS_QUERY,
                                        "variables": {"first": page_size, "after": after, "query": search}})
            if not isinstance(body, dict) or body.get("errors") or "data" not in body:
                raise ShoplineError(f"GraphQL products failed: {str(body.get('errors') if isinstance(body, dict) else body)[:300]}")
            connection = body["data"]["products"]
            nodes = [edge["node"] for edge in connection["edges"]]
            if nodes:
                yield nodes
            page = connection["pageInfo"]
            if not page["hasNextPage"]:
                return
            if not page.get("endCursor"):
                # Following a missing cursor would restart the walk from the first page, forever.
                raise ShoplineError("GraphQL products: hasNextPage without an endCursor")
            after = page["endCursor"]

    def nodes(self, gids: list[str]) -> Iterator[list[dict | None]]:
        """`nodes(ids:)` for these GIDs, MAX_GRAPHQL_FIRST a call: per GID, in order, its node or None."""
        for start in range(0, len(gids), MAX_GRAPHQL_FIRST):
            chunk = gids[start:start + MAX_GRAPHQL_FIRST]
            body = self.http.post_json(f"{self.prefix}/graphql.json",
                                       {"query": NODES_QUERY, "variables": {"ids": chunk}})
            if not isinstance(body, dict) or body.get("errors") or "data" not in body:
                problem = body.get("errors") if isinstance(body, dict) else body
                raise ShoplineError(f"GraphQL nodes failed: {str(problem)[:300]}")
            found = body["data"]["nodes"]
            if not isinstance(found, list) or len(found) != len(chunk):
                raise ShoplineError(f"GraphQL nodes answered {len(found) if isinstance(found, list) else found!r} "
                                    f"nodes for {len(chunk)} ids")
            yield found

    def products_by_id(self, product_ids: list[str], variant_ids: list[str],
                       missing: list[str]) -> Iterator[list[dict]]:
        """The product nodes of these plain product ids and of these variants' products, each product once.

        A product id the store does not have is appended to `missing`: it was deleted there. A variant it
        does not have is skipped: its product's deletion is an event of its own."""
        gids = ([to_gid("Product", i) for i in dict.fromkeys(product_ids)]
                + [to_gid("ProductVariant", i) for i in dict.fromkeys(variant_ids)])
        seen: set[str] = set()
        offset = 0
        for found in self.nodes(gids):
            batch = []
            for gid, node in zip(gids[offset:offset + len(found)], found):
                product = node.get("product") if isinstance(node, dict) and "/ProductVariant/" in gid else node
                if not isinstance(product, dict):
                    if "/Product/" in gid:
                        missing.append(from_gid(gid, "Product"))
                elif product.get("id") not in seen:
                    seen.add(product.get("id"))
                    batch.append(product)
            offset += len(found)
            if batch:
                yield batch

    def rest(self, resource: str, *, limit: int = 250, since_id: str | None = None) -> Iterator[list[dict]]:
        """Every record of a REST resource (`orders`, `products`), following the Link header."""
        if not 1 <= limit <= MAX_REST_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_REST_LIMIT}, got {limit}")
        params: dict = {"limit": limit}
        if since_id is not None:
            params["since_id"] = since_id
        while True:
            body, headers = self.http.get_json_and_headers(f"{self.prefix}/{resource}/{resource}.json", params)
            records = body.get(resource) if isinstance(body, dict) else None
            if not isinstance(records, list):
                raise ShoplineError(f"{resource}.json answered without a {resource} list: {str(body)[:200]}")
            if records:
                yield records
            page_info = next_page_info(headers.get("link"))
            if page_info is None:
                return
            params = {"limit": limit, "page_info": page_info}  # with page_info, other filters are ignored

    # -- inventory (Open API inventory_levels/set.json; beyond the contract, docs/protocols/shopline.md) --

    def default_location_id(self) -> str:
        """The store's default active location: where a variant's level is set."""
        body = self.http.get_json(f"{self.prefix}/locations/list.json")
        locations = body.get("locations") if isinstance(body, dict) else None
        if not isinstance(locations, list):
            raise ShoplineError(f"locations/list.json answered without a locations list: {str(body)[:200]}")
        for location in locations:
            if str(location.get("is_default")).lower() == "true" and location.get("active") is not False:
                return str(location["id"])
        raise ShoplineError("the store has no active default location; set ShoplineResource.inventory_location_id")

    def variant(self, variant_id: str) -> dict | None:
        """One variant (with its inventory_item_id), or None when the store has no such variant."""
        body = self.http.get_json(f"{self.prefix}/products/variants/{variant_id}.json", allow_404=True)
        if body is None:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("variant"), dict):
            raise ShoplineError(f"variants/{variant_id}.json answered without a variant: {str(body)[:200]}")
        return body["variant"]

    def set_inventory(self, inventory_item_id: str, location_id: str, available: int) -> dict:
        """Set (not adjust) the available level of one inventory item at one location; the answer's level.

        Setting is idempotent, which is what makes the shared retries safe here."""
        body = self.http.post_json(f"{self.prefix}/inventory_levels/set.json",
                                   {"inventory_item_id": inventory_item_id, "location_id": location_id,
                                    "available": available})
        level = body.get("inventory_level") if isinstance(body, dict) else None
        if not isinstance(level, dict):
            raise ShoplineError(f"inventory_levels/set.json answered without an inventory_level: {str(body)[:200]}")
        return level

    def close(self) -> None:
        self.http.close()
