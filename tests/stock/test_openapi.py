"""GET /openapi.json describes exactly the routes the stock service serves, and is valid OpenAPI 3."""

from __future__ import annotations

import pytest
from starlette.responses import Response
from starlette.routing import Route

from commerce_core.db.migrate import upgrade
from stock_service.app import create_app
from stock_service.openapi import describe
from tests.stock.helpers import served, service_settings

# Path parameters for the probes: any value the handlers accept as well-formed.
_SAMPLE = {"{sku}": "NO-SUCH-SKU", "{order_id}": "no-such-order"}


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite3'}"
    upgrade(url)
    return url


def _routes_served(app) -> set[tuple[str, str]]:
    """(method, path) of every route, read from the routes themselves (HEAD: Starlette's automatic GET twin)."""
    return {(method, route.path) for route in app.routes for method in route.methods if method != "HEAD"}


def _documented(document: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def _routing_miss(answer) -> bool:
    """Starlette's own answer for a path or method it does not route (a handler's 404 is JSON)."""
    return answer.status_code == 405 or (answer.status_code == 404 and answer.headers.get(
        "content-type", "").startswith("text/plain"))


def test_openapi_json_lists_every_route_and_only_those(sqlite_url):
    settings = service_settings(sqlite_url, False)
    app = create_app(settings)
    served_routes = _routes_served(app)
    starlette_routes = _routes_served(app.app)
    assert starlette_routes < served_routes  # the hot reservation route, answered in front of Starlette, too
    with served(settings) as client:
        document = client.get("/openapi.json").json()
        assert document["openapi"].startswith("3.")
        documented = _documented(document)
        assert served_routes - documented == set(), "routes missing from /openapi.json"
        assert documented - served_routes == set(), "/openapi.json lists operations the app does not serve"

        # Each documented operation, called: routed (not Starlette's 404/405), and its answer is documented.
        assert _routing_miss(client.get("/no-such-route")) and _routing_miss(client.delete("/health"))
        for method, path in sorted(documented):
            url = path
            for placeholder, value in _SAMPLE.items():
                url = url.replace(placeholder, value)
            answer = client.request(method, url, content=b"{}")
            assert not _routing_miss(answer), f"{method} {path} is documented but not served"
            responses = document["paths"][path][method.lower()]["responses"]
            assert str(answer.status_code) in responses, f"{method} {path}: {answer.status_code} undocumented"
            content = responses[str(answer.status_code)].get("content", {})
            media_types = {media_type.split(";")[0] for media_type in content}
            assert answer.headers["content-type"].split(";")[0] in media_types, f"{method} {path}"


def test_a_route_without_a_description_or_a_description_without_a_route_is_refused(sqlite_url):
    routes = create_app(service_settings(sqlite_url, False)).routes

    async def extra(request):
        return Response()

    with pytest.raises(ValueError, match="undescribed.*'/extra'"):
        describe([*routes, Route("/extra", extra, methods=["GET"])])
    with pytest.raises(ValueError, match="not served.*'/metrics'"):
        describe([route for route in routes if route.path != "/metrics"])
    with pytest.raises(ValueError, match="undescribed.*'DELETE', '/health'"):
        describe([*routes, Route("/health", extra, methods=["DELETE"])])


def test_the_description_is_valid_openapi(sqlite_url):
    validator = pytest.importorskip("openapi_spec_validator",
                                    reason="a dev dependency: pip install -e '.[dev]' (pyproject.toml)")
    document = describe(create_app(service_settings(sqlite_url, False)).routes)
    validator.validate(document)
    assert document["openapi"] == "3.1.0"
