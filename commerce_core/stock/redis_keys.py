"""Redis key names of the stock fast path, shared by the service and reconciliation.

The SKU sits in a hash tag ({...}) so a SKU's keys stay together on a cluster.
"""

UNLIMITED = -1  # the available counter of an SKU without a stock limit


def available_key(sku: str) -> str:
    return f"stock:available:{{{sku}}}"


def answer_key(operation: str, order_id: str) -> str:
    return f"stock:answer:{operation}:{order_id}"


def view_key(sku: str) -> str:
    return f"stock:view:{{{sku}}}"


def user_orders_key(user_id: str) -> str:
    return f"stock:orders:{user_id}"
