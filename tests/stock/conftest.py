from __future__ import annotations

import pytest


@pytest.fixture(params=["database-only", "redis"])
def mode(request) -> str:
    """The service's two modes: without HUB_REDIS_URL (the embedded default) and with Redis."""
    return request.param
