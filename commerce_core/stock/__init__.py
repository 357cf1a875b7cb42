"""Stock: inbound stock pushes from order/stock management systems."""
