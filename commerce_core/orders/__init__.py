"""Orders from the commerce platforms as one model (seeds/002 UnifiedOrder, UnifiedCustomer)."""
