"""Dagster resources: configurable clients of the catalog database, suppliers, regions, enrichment, e-invoicing folders and alerts."""

from resources.catalog_database import CatalogDatabase
from resources.einvoice import InvoiceUploadsResource, TurnkeyResource
from resources.enrichment import EnricherResource
from resources.nextengine import NextEngineResource
from resources.regions import FxRatesResource, NotifierResource, RegionsResource
from resources.serp_supplier import SerpSupplierResource
from resources.shopline import ShoplineResource
from resources.stock import StockRedisResource

__all__ = [
    "CatalogDatabase", "EnricherResource", "FxRatesResource", "InvoiceUploadsResource", "NextEngineResource",
    "NotifierResource", "RegionsResource", "SerpSupplierResource", "ShoplineResource", "StockRedisResource",
    "TurnkeyResource",
]
