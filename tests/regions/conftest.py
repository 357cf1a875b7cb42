from __future__ import annotations

import pytest

from tests.regions.helpers import RegionSites, start_sites


@pytest.fixture
def region_sites(tmp_path):
    """`sites = region_sites(strategies={"JP": "SmartMerge"})`: TW, US and JP simulators, stopped afterwards."""
    started: list[RegionSites] = []

    def start(strategies: dict[str, str] | None = None) -> RegionSites:
        sites = start_sites(tmp_path, strategies)
        started.append(sites)
        return sites

    yield start
    for sites in started:
        for served in sites.served.values():
            served.stop()


class _AlertSink:
    def __init__(self):
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        self.received: list[dict] = []

        async def receive(request: Request) -> JSONResponse:
            self.received.append(await request.json())
            return JSONResponse({"ok": True})

        from simulators.asgi_server import ServedApp

        self.served = ServedApp(Starlette(routes=[Route("/alerts", receive, methods=["POST"])])).start()
        self.url = f"{self.served.url}/alerts"


@pytest.fixture
def alert_sink():
    """A webhook receiver that keeps every alert POSTed to `alert_sink.url`."""
    sink = _AlertSink()
    yield sink
    sink.served.stop()
