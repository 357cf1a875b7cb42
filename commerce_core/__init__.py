"""Commerce Hub's Dagster-free core: models, database schema and domain rules.

The Dagster code location, the stock service and the fast unit tests all use this
package directly, so nothing in it may import dagster.
"""
