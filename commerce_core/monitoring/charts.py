"""A price line per top mover, as PNG bytes (matplotlib, no display needed)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # headless: runs, tests and CI have no screen
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend
import pandas as pd  # noqa: E402


def price_lines_png(history: pd.DataFrame, movers: pd.DataFrame, *, title: str) -> bytes:
    """`movers` rows name (product_id, currency, price_type, external_product_id); one line each."""
    figure, axes = plt.subplots(figsize=(7, 3.2), dpi=100)
    try:
        for mover in movers.itertuples():
            series = history[(history["product_id"] == mover.product_id) & (history["currency"] == mover.currency)
                             & (history["price_type"] == mover.price_type)].sort_values("snapshot_date")
            axes.plot(series["snapshot_date"], series["amount"].astype(float), marker="o",
                      label=f"{mover.external_product_id} {mover.currency}")
        axes.set_title(title)
        axes.set_ylabel("price")
        axes.grid(alpha=0.3)
        if len(movers):
            axes.legend(fontsize=7, loc="best")
        figure.autofmt_xdate()
        out = io.BytesIO()
        figure.savefig(out, format="png", bbox_inches="tight")
        return out.getvalue()
    finally:
        plt.close(figure)
