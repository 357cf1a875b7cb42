"""Shopline client (contracts/shopline.md): products through GraphQL (Relay cursors, GIDs),
orders and customers through REST (the next page's cursor is `page_info` in the Link header).
"""

from __future__ import annotations

from collections.abc import Iterator

from commerce_core.connectors.converters import next_page_info
from commerce_core.http.resilience import ResilientHttpClient

MAX_REST_LIMIT = 1000
MAX_GRAPHQL_FIRST = 250

PRODUCTS_QUERY = """
query Products($first: Int!, $after: String) {
  products(first: $first, after: $after) {
    edges { cursor node { id title descriptionHtml status updatedAt
      variants(first: 100) { edges { node { id sku price inventoryQuantity } } } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


class ShoplineError(RuntimeError):
    """A GraphQL answer with errors, or a REST answer without the expected list."""


class ShoplineClient:
    def __init__(self, http: ResilientHttpClient, api_version: str):
        self.http = http
        self.prefix = f"/admin/openapi/{api_version}"

    def products(self, page_size: int = MAX_GRAPHQL_FIRST) -> Iterator[list[dict]]:
        """Every product node (GraphQL), a page at a time, following endCursor."""
        if not 1 <= page_size <= MAX_GRAPHQL_FIRST:
            raise ValueError(f"page_size must be 1..{MAX_GRAPHQL_FIRST}, got {page_size}")
        after = None
        while True:
            body = self.http.post_json(f"{self.prefix}/graphql.json",
                                       {"query": PRODUCTS_QUERY, "variables": {"first": page_size, "after": after}})
            if not isinstance(body, dict) or body.get("errors") or "data" not in body:
                raise ShoplineError(f"GraphQL products failed: {str(body.get('errors') if isinstance(body, dict) else body)[:300]}")
            connection = body["data"]["products"]
            nodes = [edge["node"] for edge in connection["edges"]]
            if nodes:
                yield nodes
            page = connection["pageInfo"]
            if not page["hasNextPage"]:
                return
            after = page["endCursor"]

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

    def close(self) -> None:
        self.http.close()
