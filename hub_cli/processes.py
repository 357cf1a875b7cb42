"""The processes a `hub` command starts, stopped together and completely.

Each child runs in a process group of its own, so a stop reaches everything it
started (`dagster dev` starts the webserver, the daemon and code servers, which
start gRPC servers of their own). A stop asks every group to end (SIGTERM),
waits a few seconds, then kills whatever is left: the groups and every
descendant seen when the stop began (a grandchild can outlive its parent and
leave the group's tree).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import IO

STOP_GRACE_SECONDS = 5.0


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (empty where there is no /proc)."""
    children: dict[int, list[int]] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return set()
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def is_running(pid: int) -> bool:
    """Whether `pid` exists and has not exited (a zombie has: only its parent's reaping is left)."""
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    return state != "Z"


class ChildProcesses:
    """Children started in their own process groups, with their output in log files (or this console)."""

    def __init__(self, env: dict[str, str], cwd: Path, log_dir: Path):
        self.env, self.cwd, self.log_dir = env, cwd, log_dir
        self.started: list[tuple[str, subprocess.Popen]] = []
        self._logs: list[IO] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, command: list[str], *, log_name: str | None = None) -> subprocess.Popen:
        """Start `command`; its output goes to log_dir/<log_name> when given, else to this console."""
        output = None
        if log_name:
            output = open(self.log_dir / log_name, "ab")  # noqa: SIM115 - closed in stop()
            self._logs.append(output)
        process = subprocess.Popen(command, env=self.env, cwd=self.cwd, stdout=output,
                                   stderr=subprocess.STDOUT if output else None, start_new_session=True)
        self.started.append((name, process))
        where = f" (log: {self.log_dir / log_name})" if log_name else ""
        print(f"[hub] started {name}{where}", flush=True)
        return process

    def exited(self) -> str | None:
        """The name of a child that has ended on its own, if any."""
        return next((name for name, process in self.started if process.poll() is not None), None)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Ask every child's group to end, then kill what is still running after `grace` seconds."""
        seen = set().union(*(descendants(process.pid) for _, process in self.started)) if self.started else set()
        for _, process in self.started:
            self._signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self._left(seen):
            time.sleep(0.1)
        for _, process in self.started:
            self._signal_group(process, signal.SIGKILL)
        for pid in self._left(seen):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for _, process in self.started:
            process.wait()
        for log in self._logs:
            log.close()
        self.started, self._logs = [], []

    def _left(self, seen: set[int]) -> set[int]:
        left = {pid for pid in seen if is_running(pid)}
        left |= {process.pid for _, process in self.started if process.poll() is None}
        return left

    @staticmethod
    def _signal_group(process: subprocess.Popen, signum: int) -> None:
        try:
            os.killpg(process.pid, signum)
        except OSError:  # the group is gone already
            pass
