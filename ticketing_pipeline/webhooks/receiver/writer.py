"""Group commit: many concurrent deliveries share one round of fsyncs.

Requests hand their file to ``LandingWriter.land`` and wait. A single commit loop takes everything
pending, stores it with ``LandingArea.store_batch`` in a worker thread (files fsync'd in parallel,
then one fsync per folder), and wakes the waiting requests. While a batch is on its way to disk the
next one gathers, so the batch size grows with the load and the number of fsyncs per delivery falls.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from ..landing import LandingArea, LandingError, PendingFile, StoreOutcome

log = logging.getLogger(__name__)


class OverloadedError(LandingError):
    """Too many deliveries wait for the disk already; the sender should retry later."""


class LandingWriter:
    def __init__(
        self,
        area: LandingArea,
        *,
        max_batch: int = 512,
        max_pending: int = 10_000,
        io_threads: int = 4,
    ) -> None:
        self.area = area
        self.max_batch = max_batch
        self.max_pending = max_pending
        self._io_threads = io_threads
        self._pending: list[tuple[PendingFile, asyncio.Future[StoreOutcome]]] = []
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._commit_pool: ThreadPoolExecutor | None = None
        self._io_pool: ThreadPoolExecutor | None = None
        self._closing = False

    def _start(self) -> None:
        # Started lazily in the running loop, so the app also works where no lifespan runs.
        self._wakeup = asyncio.Event()
        self._commit_pool = ThreadPoolExecutor(1, thread_name_prefix="landing-commit")
        self._io_pool = ThreadPoolExecutor(self._io_threads, thread_name_prefix="landing-io")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="landing-commit")

    async def land(self, item: PendingFile) -> StoreOutcome:
        """Return once ``item`` is durable (or was stored before); raise ``LandingError`` if not."""
        if self._task is None or self._task.done():
            self._start()
        assert self._wakeup is not None
        if len(self._pending) >= self.max_pending:
            raise OverloadedError("too many deliveries waiting for the disk")
        future: asyncio.Future[StoreOutcome] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._wakeup.set()
        return await future

    async def _run(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while not (self._closing and not self._pending):
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                items = [item for item, _ in batch]
                try:
                    outcomes = await loop.run_in_executor(
                        self._commit_pool, self.area.store_batch, items, self._io_pool
                    )
                except Exception as error:  # a bug, not an I/O error: fail the batch, keep going
                    log.exception("landing batch failed")
                    outcomes = [LandingError(f"cannot store delivery: {error!r}")] * len(batch)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():  # the request was cancelled (client went away)
                        continue
                    if isinstance(outcome, LandingError):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)

    async def close(self) -> None:
        """Finish pending writes, then stop the loop and the threads."""
        if self._task is not None and self._wakeup is not None:
            self._closing = True
            self._wakeup.set()
            await self._task
            self._task = None
            self._closing = False
        for pool in (self._commit_pool, self._io_pool):
            if pool is not None:
                pool.shutdown(wait=True)
