"""Bounded concurrency for per-event fetches: in order, never more than N at once, fails fast."""

from __future__ import annotations

import threading
import time

import pytest

from ticketing_pipeline.sources.humanitix.source import map_in_order


class Probe:
    """A fetch that takes a while and records how many ran at once."""

    def __init__(self, seconds: float = 0.02, fail_on: int | None = None) -> None:
        self.seconds = seconds
        self.fail_on = fail_on
        self.running = 0
        self.most = 0
        self.started: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, item: int) -> list[int]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.started.append(item)
        try:
            # Later items finish first: the results must still come back in order.
            time.sleep(self.seconds * (1 + (item % 3 == 0)))
            if item == self.fail_on:
                raise RuntimeError(f"event {item} failed")
            return [item, item * 10]
        finally:
            with self.lock:
                self.running -= 1


@pytest.mark.parametrize("workers", [1, 2, 4, 7])
def test_results_in_the_items_order_with_at_most_workers_at_once(workers: int) -> None:
    probe = Probe()
    items = list(range(23))
    assert list(map_in_order(probe, items, workers)) == [[i, i * 10] for i in items]
    assert probe.most <= workers
    if workers > 1:
        assert probe.most > 1  # it did run fetches at once


def test_four_workers_wait_at_the_same_time() -> None:
    # A barrier of four only opens if four fetches are waiting at once: overlap proven without
    # comparing wall times, which a loaded machine makes flaky.
    barrier = threading.Barrier(4, timeout=30)
    assert list(map_in_order(lambda item: [barrier.wait() >= 0, item], range(8), 4)) == [
        [True, item] for item in range(8)
    ]


def test_a_failure_is_raised_in_order_and_stops_the_rest() -> None:
    probe = Probe(fail_on=5)
    stop = threading.Event()
    results = []
    with pytest.raises(RuntimeError, match="event 5 failed"):
        for result in map_in_order(probe, list(range(200)), 3, stop):
            results.append(result)
    assert results == [[i, i * 10] for i in range(5)]  # everything before it, nothing lost
    assert stop.is_set()
    # Queued fetches were cancelled: far fewer than 200 started.
    assert len(probe.started) < 20


def test_closing_early_cancels_queued_fetches() -> None:
    probe = Probe()
    stop = threading.Event()
    results = map_in_order(probe, list(range(100)), 4, stop)
    assert next(results) == [0, 0]
    results.close()
    assert stop.is_set()
    assert len(probe.started) < 15


def test_empty_and_single() -> None:
    assert list(map_in_order(Probe(), [], 4)) == []
    assert list(map_in_order(Probe(), [3], 4)) == [[3, 30]]
