"""Dagster resources: configurable clients of the catalog database, suppliers and enrichment."""

from resources.catalog_database import CatalogDatabase
from resources.enrichment import EnricherResource
from resources.serp_supplier import SerpSupplierResource

__all__ = ["CatalogDatabase", "EnricherResource", "SerpSupplierResource"]
