"""The catalog's sources: each supplier's id, record rules and mapping to the unified model.

The pipeline stages after staging are the same for every source; they look up
a supplier's rules here. A new source is a staging asset plus an entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from commerce_core.catalog.models import UnifiedProduct
from commerce_core.catalog.serp_mapping import SERP_SUPPLIER_ID, Violation, map_serp_record, validate_serp_record
from commerce_core.connectors.nextengine_mapping import NEXTENGINE_SUPPLIER_ID, map_goods, validate_goods
from commerce_core.connectors.shopline_mapping import SHOPLINE_SUPPLIER_ID, map_product_node, validate_product_node


@dataclass(frozen=True)
class CatalogSource:
    supplier_id: str
    validate: Callable[[object], list[Violation]]
    map: Callable[[dict], UnifiedProduct]


SOURCES: dict[str, CatalogSource] = {
    SERP_SUPPLIER_ID: CatalogSource(SERP_SUPPLIER_ID, validate_serp_record, map_serp_record),
    NEXTENGINE_SUPPLIER_ID: CatalogSource(NEXTENGINE_SUPPLIER_ID, validate_goods, map_goods),
    SHOPLINE_SUPPLIER_ID: CatalogSource(SHOPLINE_SUPPLIER_ID, validate_product_node, map_product_node),
}
