"""A JSON-over-HTTP client that retries, backs off, breaks the circuit and limits its own rate.

The GlobalHub design's RetryPolicy (docs/background.md): retry 5xx, timeouts and transport errors with exponential
backoff (2, 4, 8 s); honour 429 Retry-After; after 5 consecutive failures open the
circuit for one minute, during which nothing is sent. Retrying is tenacity's job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
import orjson
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt


class HttpCallError(RuntimeError):
    """A call that did not produce a usable answer."""


class RetryableError(HttpCallError):
    def __init__(self, message: str, retry_after: float | None = None, counts_for_circuit: bool = True):
        super().__init__(message)
        self.retry_after = retry_after
        self.counts_for_circuit = counts_for_circuit


class PermanentError(HttpCallError):
    """4xx other than 404/429: retrying cannot help."""

    def __init__(self, message: str, status_code: int):
        super().__init__(message)
        self.status_code = status_code


class CircuitOpenError(HttpCallError):
    """The circuit is open: the call was not sent."""


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive failures; one trial call after `reset_seconds`."""

    def __init__(self, name: str, failure_threshold: int = 5, reset_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._consecutive_failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self._opened_at >= self.reset_seconds else "open"

    def before_call(self) -> None:
        with self._lock:
            state = self._state()
            if state == "open":
                remaining = self.reset_seconds - (self._clock() - self._opened_at)
                raise CircuitOpenError(f"circuit {self.name} is open for another {remaining:.0f}s")
            if state == "half-open":
                if self._trial_in_flight:
                    raise CircuitOpenError(f"circuit {self.name} is half-open: one trial call is under way")
                self._trial_in_flight = True

    def record_success(self) -> None:
        with self._lock:
            self._consecutive_failures = 0
            self._opened_at = None
            self._trial_in_flight = False

    def release_trial(self) -> None:
        """The trial call got no verdict (e.g. 429): the next call may try again."""
        with self._lock:
            self._trial_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._consecutive_failures += 1
            if self._state() == "half-open" or self._consecutive_failures >= self.failure_threshold:
                self._opened_at = self._clock()
            self._trial_in_flight = False


class RateLimiter:
    """Token bucket shared by all threads of one client; rate <= 0 means unlimited."""

    def __init__(self, rate_per_second: float, burst: int = 1):
        self.rate = rate_per_second
        self.capacity = max(1, burst)
        self._tokens = float(self.capacity)
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if self.rate <= 0:
            return
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.rate
            time.sleep(wait)


@dataclass(frozen=True)
class RetrySettings:
    max_attempts: int = 4  # the first try and three retries: 2, 4, 8 s
    backoff_seconds: float = 2.0
    max_retry_after_seconds: float = 120.0


class ResilientHttpClient:
    """Keep-alive httpx client with retry, circuit breaker and rate limit; answers are JSON."""

    def __init__(self, base_url: str, *, headers: Mapping[str, str] | None = None, timeout_seconds: float = 30.0,
                 retry: RetrySettings = RetrySettings(), breaker: CircuitBreaker | None = None,
                 limiter: RateLimiter | None = None, max_connections: int = 8,
                 on_retry: Callable[[str], None] | None = None):
        self.retry = retry
        self.breaker = breaker or CircuitBreaker(base_url)
        self.limiter = limiter or RateLimiter(0)
        self.on_retry = on_retry
        self._client = httpx.Client(
            base_url=base_url,
            headers=dict(headers or {}),
            timeout=timeout_seconds,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    def get_json(self, path: str, params: Mapping | None = None, *, allow_404: bool = False,
                 decode: Callable[[bytes], object] = orjson.loads):
        """`decode` turns the body into the answer; a ValueError from it is a broken answer, retried."""
        return self._call("GET", path, params=params, allow_404=allow_404, decode=decode)

    def get_json_and_headers(self, path: str, params: Mapping | None = None) -> tuple[object, httpx.Headers]:
        """For APIs that page through a response header (Shopline's Link)."""
        return self._call("GET", path, params=params, with_headers=True)

    def post_json(self, path: str, body: object):
        return self._call("POST", path, content=orjson.dumps(body), headers={"Content-Type": "application/json"})

    def post_form(self, path: str, fields: Mapping[str, str]):
        """application/x-www-form-urlencoded (Next Engine); the answer is JSON like every other."""
        return self._call("POST", path, data=dict(fields))

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, *, allow_404: bool = False, with_headers: bool = False,
              decode: Callable[[bytes], object] = orjson.loads, **request):
        retrying = Retrying(
            stop=stop_after_attempt(self.retry.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(RetryableError),
            before_sleep=self._report_retry,
            reraise=True,
        )
        return retrying(self._attempt, method, path, allow_404, request, with_headers, decode)

    def _attempt(self, method: str, path: str, allow_404: bool, request: dict, with_headers: bool,
                 decode: Callable[[bytes], object]):
        self.breaker.before_call()
        try:
            return self._judged_attempt(method, path, allow_404, request, with_headers, decode)
        finally:
            # Whatever ended this call without a verdict (429, an unexpected error) must not
            # leave a half-open circuit waiting for a trial that never reports.
            self.breaker.release_trial()

    def _judged_attempt(self, method: str, path: str, allow_404: bool, request: dict, with_headers: bool,
                        decode: Callable[[bytes], object]):
        self.limiter.acquire()
        try:
            response = self._client.request(method, path, **request)
        except httpx.TimeoutException as error:
            raise self._failure(f"{method} {path} timed out: {error}") from error
        except httpx.TransportError as error:
            raise self._failure(f"{method} {path} failed: {error!r}") from error
        status = response.status_code
        if status == 429:
            # Being told to slow down is not the server failing: it does not open the circuit.
            raise RetryableError(f"{method} {path} rate limited (429)", _retry_after(response), counts_for_circuit=False)
        if status >= 500:
            raise self._failure(f"{method} {path} answered {status}")
        if status == 404 and allow_404:
            self.breaker.record_success()
            return None
        if status >= 400:
            self.breaker.record_success()
            raise PermanentError(f"{method} {path} answered {status}: {response.text[:200]}", status)
        try:
            body = decode(response.content)
        except ValueError as error:
            raise self._failure(f"{method} {path} answered invalid JSON ({len(response.content)} bytes): {error}") from error
        self.breaker.record_success()
        return (body, response.headers) if with_headers else body

    def _failure(self, message: str) -> RetryableError:
        self.breaker.record_failure()
        return RetryableError(message)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RetryableError) and error.retry_after is not None:
            return min(error.retry_after, self.retry.max_retry_after_seconds)
        return self.retry.backoff_seconds * 2 ** (state.attempt_number - 1)

    def _report_retry(self, state: RetryCallState) -> None:
        if self.on_retry is not None:
            error = state.outcome.exception()
            self.on_retry(f"retry {state.attempt_number}/{self.retry.max_attempts - 1} after {state.upcoming_sleep:.2f}s: {error}")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
