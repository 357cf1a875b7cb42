"""The BAN (統一編號) checksum of docs/protocols/einvoice-turnkey.md (rule since 2023-04-01)."""

from __future__ import annotations

import re
from functools import lru_cache

_WEIGHTS = (1, 2, 1, 2, 1, 2, 4, 1)
_BAN = re.compile(r"[0-9]{8}")  # ASCII digits only: "２２０９９１３１" is not a BAN


@lru_cache(maxsize=65536)  # an upload repeats its seller's and buyers' BANs on every row
def is_valid_ban(ban: str) -> bool:
    """Weights 1,2,1,2,1,2,4,1; digit sums of each product; valid when divisible by 5.

    When the 7th digit is 7 its product 28 counts as 1 or 0, so sum or sum−1 may be divisible.
    """
    if not isinstance(ban, str) or not _BAN.fullmatch(ban):
        return False
    total = 0
    for digit, weight in zip(ban, _WEIGHTS):
        product = int(digit) * weight
        total += product // 10 + product % 10
    if ban[6] == "7":
        total -= 9  # 28 → 2 + 8 = 10 → 1 + 0 = 1 (or 0, hence sum − 1 below)
        return total % 5 == 0 or (total - 1) % 5 == 0
    return total % 5 == 0
