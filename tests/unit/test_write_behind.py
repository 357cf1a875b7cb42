"""WriteBehind: writes run in order, one at a time, and a failure reaches the caller."""

from __future__ import annotations

import threading
import time

import pytest

from commerce_core.db.write_behind import WriteBehind


def test_writes_run_in_order_off_the_callers_thread() -> None:
    done: list[tuple[int, str]] = []
    with WriteBehind() as writer:
        for number in range(5):
            writer.submit(lambda number=number: done.append((number, threading.current_thread().name)))
    assert [number for number, _ in done] == [0, 1, 2, 3, 4]
    assert all(name.startswith("write-behind") for _, name in done)


def test_one_write_in_flight_at_a_time() -> None:
    in_flight, most = [0], [0]
    lock = threading.Lock()

    def write() -> None:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.01)
        with lock:
            in_flight[0] -= 1

    with WriteBehind() as writer:
        for _ in range(5):
            writer.submit(write)
    assert most[0] == 1


def test_a_failed_write_stops_later_writes_and_reaches_the_caller() -> None:
    done: list[int] = []

    def fail() -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        with WriteBehind() as writer:
            writer.submit(lambda: done.append(1))
            writer.submit(fail)
            writer.submit(lambda: done.append(3))  # raises the earlier failure instead of queueing
            writer.submit(lambda: done.append(4))
    assert done == [1]


def test_a_failure_of_the_last_write_is_raised_on_leaving() -> None:
    def fail() -> None:
        raise ValueError("bad row")

    with pytest.raises(ValueError, match="bad row"):
        with WriteBehind() as writer:
            writer.submit(fail)


def test_the_callers_own_error_is_not_masked_and_the_write_finishes() -> None:
    done: list[str] = []

    def slow() -> None:
        time.sleep(0.05)
        done.append("written")

    with pytest.raises(KeyError):
        with WriteBehind() as writer:
            writer.submit(slow)
            raise KeyError("mapping failed")
    assert done == ["written"]
