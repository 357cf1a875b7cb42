"""`python -m stock_service [--host 127.0.0.1] [--port 8000] [--workers 1]`: serve the stock API.

uvicorn shuts down gracefully on SIGTERM/SIGINT: it stops accepting, lets requests
in flight finish (their group commit included), then runs the app's shutdown.
"""

from __future__ import annotations

import argparse

import uvicorn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m stock_service", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="service processes sharing the port")
    args = parser.parse_args(argv)
    uvicorn.run("stock_service.app:create_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level="warning", access_log=False, timeout_graceful_shutdown=20)


if __name__ == "__main__":
    main()
