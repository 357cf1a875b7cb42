"""Incremental reads of a platform's listing (Shopline products, Next Engine goods).

A read asks for the records updated since the stored cursor (a UnifiedFilter, written in
each platform's syntax by converters.py). Two things can happen to a record that changes
while the read pages through the listing:

- it is behind the read's position: this read misses its new version. The next cursor is
  never later than the read's start minus CURSOR_OVERLAP, and its new stamp is later than
  the read's start, so the next read fetches it;
- an offset listing (Next Engine) shifts by one when a record starts to match in front of
  the read's position: the read sees one record twice. ListingWalk passes each id once (the
  first version; a newer one comes with the next read) so staging never sees a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta

# Also absorbs clock skew between the platform and us (the same overlap as the SERP cursor).
CURSOR_OVERLAP = timedelta(minutes=5)


class ListingWalk:
    """The pages of one read, each record id once, remembering the newest change stamp seen."""

    def __init__(self, key: Callable[[dict], object], updated_at: Callable[[dict], datetime | None]):
        self._key = key
        self._updated_at = updated_at
        self._seen: set = set()
        self.repeated = 0
        self.max_updated: datetime | None = None

    def pages(self, pages: Iterable[list]) -> Iterator[list]:
        for page in pages:
            kept = []
            for record in page:
                try:
                    record_id = self._key(record)
                except (KeyError, TypeError, ValueError):
                    record_id = None  # staging rejects it with its reason
                if record_id is not None:
                    if record_id in self._seen:
                        self.repeated += 1
                        continue
                    self._seen.add(record_id)
                stamp = self._updated_at(record) if isinstance(record, dict) else None
                if stamp is not None and (self.max_updated is None or stamp > self.max_updated):
                    self.max_updated = stamp
                kept.append(record)
            yield kept


def next_cursor(since: datetime | None, max_updated: datetime | None, started_at: datetime) -> datetime | None:
    """The cursor after a read: never beyond what the platform showed, never past the read's start minus
    the overlap, never backwards. None when it does not move."""
    if max_updated is None:
        return None
    candidate = min(max_updated, started_at - CURSOR_OVERLAP)
    return candidate if since is None or candidate > since else None
