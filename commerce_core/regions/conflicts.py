"""Conflict strategies (seeds/000 ConflictResolutionService) between the central
copy of a product and the region's own copy (from the region's lookup endpoint).

Both copies are RegionProductDto dicts. `resolve` returns what to send, or None
when the region's copy stands as it is (LatestWins with a newer regional edit).
With no regional copy every strategy sends the central one.

- CentralWins: the central copy as is.
- RegionalWins: the central copy, but the region's translations (name and
  description per language) override.
- LatestWins: whichever copy has the later updatedAt.
- SmartMerge: prices, seats, images and the default-language name and
  description from central; the other languages merged with the region's edits
  kept; status from the region; updatedAt the later of the two.
"""

from __future__ import annotations

from datetime import datetime

STRATEGIES = ("CentralWins", "RegionalWins", "LatestWins", "SmartMerge")


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _later(a: str, b: str) -> str:
    return a if _instant(a) >= _instant(b) else b


def resolve(central: dict, regional: dict | None, strategy: str, default_language: str) -> dict | None:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown conflict strategy {strategy!r}; one of {', '.join(STRATEGIES)}")
    if regional is None or strategy == "CentralWins":
        return central
    if strategy == "RegionalWins":
        return {
            **central,
            "name": {**central["name"], **regional.get("name", {})},
            "description": {**central["description"], **regional.get("description", {})},
        }
    if strategy == "LatestWins":
        return central if _instant(central["updatedAt"]) > _instant(regional["updatedAt"]) else None
    return _smart_merge(central, regional, default_language)


def _smart_merge(central: dict, regional: dict, default_language: str) -> dict:
    def merged(field: str) -> dict:
        texts = {**central[field], **regional.get(field, {})}
        if default_language in central[field]:
            texts[default_language] = central[field][default_language]
        return texts

    return {
        **central,
        "name": merged("name"),
        "description": merged("description"),
        "status": regional.get("status", central["status"]),
        "updatedAt": _later(central["updatedAt"], regional["updatedAt"]),
    }
