"""Conflict strategies (the GlobalHub design's ConflictResolutionService, docs/background.md) between the central
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
An archived central product is sent as it is whatever the strategy, and a
regional copy with missing or malformed fields counts as holding nothing there.
"""

from __future__ import annotations

from datetime import datetime, timezone

STRATEGIES = ("CentralWins", "RegionalWins", "LatestWins", "SmartMerge")
_LONG_AGO = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _instant(value) -> datetime:
    """A copy's updatedAt; missing or unreadable counts as long ago (the other copy is newer)."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return _LONG_AGO
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _texts(copy: dict, field: str) -> dict:
    value = copy.get(field)
    return {k: v for k, v in value.items() if isinstance(v, str)} if isinstance(value, dict) else {}


def resolve(central: dict, regional: dict | None, strategy: str, default_language: str) -> dict | None:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown conflict strategy {strategy!r}; one of {', '.join(STRATEGIES)}")
    # A withdrawal always reaches the region: no regional edit keeps selling what the catalog archived.
    if regional is None or strategy == "CentralWins" or central["status"] == "Archived":
        return central
    if strategy == "RegionalWins":
        return {
            **central,
            "name": {**central["name"], **_texts(regional, "name")},
            "description": {**central["description"], **_texts(regional, "description")},
        }
    if strategy == "LatestWins":
        return central if _instant(central["updatedAt"]) > _instant(regional.get("updatedAt")) else None
    return _smart_merge(central, regional, default_language)


def _smart_merge(central: dict, regional: dict, default_language: str) -> dict:
    def merged(field: str) -> dict:
        texts = {**central[field], **_texts(regional, field)}
        if default_language in central[field]:
            texts[default_language] = central[field][default_language]
        return texts

    regional_status = regional.get("status")
    later = _instant(regional.get("updatedAt")) > _instant(central["updatedAt"])
    return {
        **central,
        "name": merged("name"),
        "description": merged("description"),
        "status": regional_status if regional_status in ("Draft", "Published") else central["status"],
        "updatedAt": regional["updatedAt"] if later else central["updatedAt"],
    }
