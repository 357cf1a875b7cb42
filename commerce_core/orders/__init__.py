"""Orders from the commerce platforms as one model (connector design: UnifiedOrder, UnifiedCustomer; docs/background.md)."""
