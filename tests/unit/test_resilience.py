"""CircuitBreaker (fake clock), RateLimiter and ResilientHttpClient against a real local Starlette app."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from commerce_core.http import resilience
from commerce_core.http.resilience import (
    CircuitBreaker,
    CircuitOpenError,
    HttpCallError,
    PermanentError,
    RateLimiter,
    ResilientHttpClient,
    RetryableError,
    RetrySettings,
)
from simulators.asgi_server import ServedApp


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- CircuitBreaker --------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker("supplier", failure_threshold=5, reset_seconds=60, clock=clock)


def test_breaker_defaults_match_the_contract() -> None:
    breaker = CircuitBreaker("x")
    assert breaker.failure_threshold == 5
    assert breaker.reset_seconds == 60


def test_breaker_opens_after_five_consecutive_failures(breaker: CircuitBreaker) -> None:
    for _ in range(4):
        breaker.record_failure()
        breaker.before_call()
    assert breaker.state == "closed"
    breaker.record_failure()
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError, match="supplier"):
        breaker.before_call()


def test_breaker_success_resets_consecutive_count(breaker: CircuitBreaker) -> None:
    for _ in range(4):
        breaker.record_failure()
    breaker.record_success()
    for _ in range(4):
        breaker.record_failure()
    assert breaker.state == "closed"
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state == "open"


def test_breaker_half_open_after_reset_then_success_closes(breaker: CircuitBreaker, clock: FakeClock) -> None:
    for _ in range(5):
        breaker.record_failure()
    clock.now += 59.9
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError):
        breaker.before_call()
    clock.now += 0.1
    assert breaker.state == "half-open"
    breaker.before_call()  # the trial call is allowed
    breaker.record_success()
    assert breaker.state == "closed"
    # Closed again with a fresh count: four failures do not reopen it.
    for _ in range(4):
        breaker.record_failure()
    assert breaker.state == "closed"


def test_breaker_failure_in_half_open_reopens_for_a_full_period(breaker: CircuitBreaker, clock: FakeClock) -> None:
    for _ in range(5):
        breaker.record_failure()
    clock.now += 60
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state == "open"
    clock.now += 59
    with pytest.raises(CircuitOpenError):
        breaker.before_call()
    clock.now += 1
    assert breaker.state == "half-open"


def test_breaker_half_open_allows_only_one_trial_call(breaker: CircuitBreaker, clock: FakeClock) -> None:
    for _ in range(5):
        breaker.record_failure()
    clock.now += 60
    breaker.before_call()
    with pytest.raises(CircuitOpenError):
        breaker.before_call()


# --- RateLimiter -------------------------------------------------------------------


def test_rate_limiter_zero_never_sleeps(monkeypatch) -> None:
    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds}")

    monkeypatch.setattr(resilience.time, "sleep", no_sleep)
    limiter = RateLimiter(0)
    for _ in range(10_000):
        limiter.acquire()
    RateLimiter(-1).acquire()


def test_rate_limiter_allows_burst_then_waits(monkeypatch) -> None:
    sleeps: list[float] = []
    real_sleep = time.sleep
    monkeypatch.setattr(resilience.time, "sleep", lambda s: (sleeps.append(s), real_sleep(s)))
    limiter = RateLimiter(1000, burst=3)
    for _ in range(3):
        limiter.acquire()
    assert sleeps == []
    limiter.acquire()
    assert sleeps and all(0 < s <= 0.001 for s in sleeps)


# --- ResilientHttpClient against a real server ------------------------------------


class Script:
    """Answers requests from a list of (status, body, headers); the last entry repeats."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self, *answers: tuple[int, bytes, dict]) -> None:
        self.answers = list(answers) or [(200, b'{"ok": true}', {})]
        self.arrivals: list[tuple[float, str, str, str | None]] = []

    async def handle(self, request: Request) -> Response:
        with self.lock:
            index = len(self.arrivals)
            self.arrivals.append((time.monotonic(), request.method, request.url.path, request.url.query or None))
            status, body, headers = self.answers[min(index, len(self.answers) - 1)]
        return Response(body, status_code=status, headers=headers, media_type="application/json")

    @property
    def count(self) -> int:
        return len(self.arrivals)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Script, str]]:
    script = Script()
    app = Starlette(routes=[Route("/{path:path}", script.handle, methods=["GET", "POST"])])
    with ServedApp(app) as served:
        yield script, served.url


@pytest.fixture
def script(server) -> Script:
    script, _ = server
    script.reset()
    return script


def make_client(server, max_attempts: int = 3, **kwargs) -> ResilientHttpClient:
    _, url = server
    return ResilientHttpClient(url, timeout_seconds=5,
                               retry=RetrySettings(max_attempts=max_attempts, backoff_seconds=0.01), **kwargs)


OK = (200, b'{"items": [1, 2]}', {})
E500 = (500, b'{"error": "boom"}', {})


def test_get_json_returns_parsed_body_and_sends_params(server, script: Script) -> None:
    script.reset(OK)
    with_client = make_client(server)
    try:
        assert with_client.get_json("/v1/products", params={"page": 2}) == {"items": [1, 2]}
    finally:
        with_client.close()
    assert script.arrivals[0][1:] == ("GET", "/v1/products", "page=2")


def test_retries_500_then_succeeds(server, script: Script) -> None:
    script.reset(E500, E500, OK)
    messages: list[str] = []
    client = make_client(server, max_attempts=3, on_retry=messages.append)
    try:
        assert client.post_json("/x", {"a": 1}) == {"items": [1, 2]}
    finally:
        client.close()
    assert script.count == 3
    assert client.breaker.state == "closed"
    # Exponential backoff from backoff_seconds: 0.01 then 0.02.
    assert len(messages) == 2
    assert "retry 1/2 after 0.01s" in messages[0] and "500" in messages[0]
    assert "retry 2/2 after 0.02s" in messages[1]


def test_gives_up_after_max_attempts_with_retryable_error(server, script: Script) -> None:
    script.reset(E500)
    client = make_client(server, max_attempts=3)
    try:
        with pytest.raises(RetryableError, match="500"):
            client.get_json("/x")
    finally:
        client.close()
    assert script.count == 3


def test_429_retry_after_zero_then_success(server, script: Script) -> None:
    script.reset((429, b"{}", {"Retry-After": "0"}), OK)
    client = make_client(server, max_attempts=2)
    try:
        assert client.get_json("/x") == {"items": [1, 2]}
    finally:
        client.close()
    assert script.count == 2


def test_429_waits_for_retry_after_header(server, script: Script) -> None:
    script.reset((429, b"{}", {"Retry-After": "0.2"}), OK)
    messages: list[str] = []
    client = make_client(server, max_attempts=2, on_retry=messages.append)
    try:
        assert client.get_json("/x") == {"items": [1, 2]}
    finally:
        client.close()
    assert script.count == 2
    assert "after 0.20s" in messages[0]
    # A lower bound on our own sleep (backoff alone would be 0.01 s).
    assert script.arrivals[1][0] - script.arrivals[0][0] >= 0.15


def test_429_does_not_open_the_circuit(server, script: Script) -> None:
    script.reset((429, b"{}", {"Retry-After": "0"}))
    client = make_client(server, max_attempts=1)
    try:
        for _ in range(7):
            with pytest.raises(RetryableError, match="429"):
                client.get_json("/x")
    finally:
        client.close()
    assert script.count == 7
    assert client.breaker.state == "closed"


def test_404_with_allow_404_is_none(server, script: Script) -> None:
    script.reset((404, b'{"error": "not_found"}', {}))
    client = make_client(server)
    try:
        assert client.get_json("/v1/products/X", allow_404=True) is None
        with pytest.raises(PermanentError) as raised:
            client.get_json("/v1/products/X")
    finally:
        client.close()
    assert raised.value.status_code == 404
    assert script.count == 2, "404 is never retried"


def test_401_is_permanent_and_not_retried(server, script: Script) -> None:
    script.reset((401, b'{"error": "bad key"}', {}), OK)
    client = make_client(server, max_attempts=4)
    try:
        with pytest.raises(PermanentError) as raised:
            client.get_json("/x")
    finally:
        client.close()
    assert raised.value.status_code == 401
    assert "bad key" in str(raised.value)
    assert isinstance(raised.value, HttpCallError) and not isinstance(raised.value, RetryableError)
    assert script.count == 1


@pytest.mark.parametrize("body", [b'{"items": [1, 2', b"<html>oops</html>", b""], ids=["truncated", "html", "empty"])
def test_invalid_json_body_is_retried(server, script: Script, body: bytes) -> None:
    script.reset((200, body, {}), OK)
    client = make_client(server, max_attempts=2)
    try:
        assert client.get_json("/x") == {"items": [1, 2]}
    finally:
        client.close()
    assert script.count == 2


def test_invalid_json_every_time_gives_retryable_error(server, script: Script) -> None:
    script.reset((200, b'{"items": [1, 2', {}))
    client = make_client(server, max_attempts=2)
    try:
        with pytest.raises(RetryableError, match="invalid JSON"):
            client.get_json("/x")
    finally:
        client.close()
    assert script.count == 2


def test_five_failing_calls_open_the_circuit(server, script: Script) -> None:
    script.reset(E500)
    client = make_client(server, max_attempts=1)
    try:
        for _ in range(5):
            with pytest.raises(RetryableError):
                client.get_json("/x")
        assert script.count == 5
        with pytest.raises(CircuitOpenError):
            client.get_json("/x")
        with pytest.raises(CircuitOpenError):
            client.post_json("/x", {})
    finally:
        client.close()
    assert script.count == 5, "an open circuit sends nothing"


def test_circuit_opening_mid_retry_stops_the_retries(server, script: Script) -> None:
    script.reset(E500)
    client = make_client(server, max_attempts=10)
    try:
        with pytest.raises(CircuitOpenError):
            client.get_json("/x")
    finally:
        client.close()
    assert script.count == 5


def test_connection_refused_is_retryable_and_counts_for_circuit() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = ResilientHttpClient(f"http://127.0.0.1:{port}", timeout_seconds=2,
                                 retry=RetrySettings(max_attempts=5, backoff_seconds=0.01))
    try:
        with pytest.raises(RetryableError, match="failed"):
            client.get_json("/x")
        assert client.breaker.state == "open"
        with pytest.raises(CircuitOpenError):
            client.get_json("/x")
    finally:
        client.close()


def test_a_429_on_the_half_open_trial_does_not_wedge_the_circuit():
    from commerce_core.http.resilience import CircuitBreaker

    now = [0.0]
    breaker = CircuitBreaker("t", failure_threshold=1, reset_seconds=60, clock=lambda: now[0])
    breaker.record_failure()
    now[0] = 61
    breaker.before_call()  # the trial
    breaker.release_trial()  # ... answered 429: no verdict
    breaker.before_call()  # another trial may go
    breaker.record_success()
    assert breaker.state == "closed"
