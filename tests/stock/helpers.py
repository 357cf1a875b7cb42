"""Running the stock service in tests: in-process over real HTTP, or as separate processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from contextlib import closing, contextmanager
from datetime import timedelta
from pathlib import Path

import httpx

from simulators.asgi_server import ServedApp
from stock_service.app import create_app
from commerce_core.settings import LOCAL_NEXTENGINE_STORE
from stock_service.settings import LOCAL_NEXTENGINE_KEY, ServiceSettings

REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REPO = Path(__file__).resolve().parents[2]


def unique(prefix: str) -> str:
    """Test data never collides with another run sharing the Redis server."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def service_settings(database_url: str, redis: bool, *, hold_seconds: float = 900,
                     expiry_interval: float = 0.2) -> ServiceSettings:
    return ServiceSettings(
        database_url=database_url, redis_url=REDIS_URL if redis else "", hold=timedelta(seconds=hold_seconds),
        expiry_interval_seconds=expiry_interval, group_commit_max=256,
        nextengine_keys={LOCAL_NEXTENGINE_STORE: LOCAL_NEXTENGINE_KEY},
    )


@contextmanager
def served(settings: ServiceSettings):
    app = ServedApp(create_app(settings)).start()
    try:
        with httpx.Client(base_url=app.url, timeout=30) as client:
            yield client
    finally:
        app.stop()


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def service_processes(count: int, env: dict[str, str]):
    """`count` separate service processes (python -m stock_service); yields their base URLs."""
    processes, urls = [], []
    try:
        for _ in range(count):
            port = _free_port()
            processes.append(subprocess.Popen([sys.executable, "-m", "stock_service", "--port", str(port)],
                                              cwd=REPO, env={**os.environ, **env}))
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            for _ in range(200):
                try:
                    httpx.get(f"{url}/health", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.05)
            else:
                raise RuntimeError(f"stock service at {url} did not start")
        yield urls, processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            process.wait(timeout=30)
