"""The one way async code reaches the store: every unit of work runs in a store worker thread.

The repositories are synchronous (SQLModel sessions); a locked SQLite file or a PostgreSQL row
lock makes a statement wait, up to the busy timeout. Run on the event loop, that wait would stop
everything else: Telegram updates, Matrix syncs, `/healthz`. Here the wait happens in a worker
thread and the event loop only awaits its result.

The workers are a pool of their own, not the loop's default executor, so store work stuck
behind a lock cannot take the threads that name lookups and chat commands need.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Concatenate, ParamSpec, TypeVar

from bot.services.ports import UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")
P = ParamSpec("P")

# SQLAlchemy's default pool: 5 connections and 10 more on demand; more threads would only
# wait for a connection.
DEFAULT_WORKERS = 15


class StoreBoundary:
    """Runs store work off the event loop; also a plain unit-of-work factory for code that
    already runs in a worker thread."""

    def __init__(self, uow_factory: UnitOfWorkFactory, executor: Executor | None = None) -> None:
        self._uow = uow_factory
        # None: the loop's default executor (a dispatcher or job built alone, as in tests).
        self._executor = executor

    @classmethod
    def with_workers(cls, uow_factory: UnitOfWorkFactory,
                     workers: int = DEFAULT_WORKERS) -> StoreBoundary:
        return cls(uow_factory, ThreadPoolExecutor(workers, thread_name_prefix="store"))

    def __call__(self) -> UnitOfWork:
        return self._uow()

    async def unit(self, work: Callable[[UnitOfWork], T]) -> T:
        """`work(uow)` in one unit of work in a store thread, committed when it returns."""
        return await self.call(self._in_unit, work)

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A synchronous function that opens its own units of work, run in a store thread
        (with the caller's context: its language, its address rule)."""
        context = contextvars.copy_context()
        task = functools.partial(context.run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, task)

    def close(self) -> None:
        """Stop the workers once the work in flight is done (no new work is taken)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def _in_unit(self, work: Callable[[UnitOfWork], T]) -> T:
        return in_unit(self._uow, work)


def in_unit(uow_factory: UnitOfWorkFactory, work: Callable[Concatenate[UnitOfWork, P], T],
            *args: P.args, **kwargs: P.kwargs) -> T:
    """`work(uow, ...)` in one unit of work, committed when it returns (for code already in a
    worker thread)."""
    with uow_factory() as uow:
        result = work(uow, *args, **kwargs)
        uow.commit()
    return result


def store_boundary(store: UnitOfWorkFactory | StoreBoundary) -> StoreBoundary:
    """The boundary itself, or one on the loop's default executor for a bare factory."""
    return store if isinstance(store, StoreBoundary) else StoreBoundary(store)
