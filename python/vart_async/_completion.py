"""Delivering jobs that finish: low-level `Job`s, and `QueuedJob`s with callbacks or asyncio futures.

The core's completion thread (csrc/core/completer.hpp) collects callback jobs as they finish and
hands each batch to a `Deliveries` object once, with the GIL: callbacks run there, copies are made,
and every asyncio event loop concerned gets one `call_soon_threadsafe` per batch. Nothing here
waits for a job or keeps slots: that is the core's job window. `Deliveries` refers to neither the
session nor the pipeline (the completion thread holds it), so dropping a session frees everything.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy.typing as npt

from vart_async import _outputs
from vart_async._errors import WaitTimeoutError, error_for

Outputs = list[npt.NDArray[Any]]
Callback = Callable[[Outputs, "QueuedJob"], None]
#: Microseconds standing for "no limit" in native waits (the core saturates its deadlines).
FOREVER_US = 2**62


def duration_units(value: Any, name: str, per_second: int) -> int:
    """A positive number of seconds as whole `per_second` units (inf: no limit); ValueError else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or not value > 0:
        raise ValueError(f"{name} must be a number of seconds > 0 (got {value!r})")
    scaled = float(value) * per_second
    return FOREVER_US if scaled >= FOREVER_US else max(1, math.ceil(scaled))


class Job:
    """A job submitted with Session.submit(k): wait on it before you touch slot k again."""

    def __init__(self, pipe: Any, slot: int, seq: int) -> None:
        self._pipe = pipe
        self.slot = slot
        self._seq = seq
        self._outcome: tuple[str, str] | None = None  # (reason, message) once collected

    def done(self) -> bool:
        """True once the job has finished (polls the runtime; never blocks)."""
        return self._outcome is not None or self._collect(0)

    def wait(self, timeout: float | None = None) -> None:
        """Waits for the job; None waits as long as it takes. Releases the GIL while waiting.

        Raises WaitTimeoutError after `timeout` seconds (the job stays in flight: wait again), or
        JobFailedError if the runtime reports a failure. Several threads may wait on one job.
        """
        if self._outcome is None:
            limit = FOREVER_US if timeout is None else duration_units(timeout, "timeout", 1_000_000)
            if not self._collect(limit):
                raise WaitTimeoutError(f"job on slot {self.slot} did not finish within {timeout} s")
        assert self._outcome is not None
        reason, message = self._outcome
        if reason != "finished":
            raise error_for(reason, f"job on slot {self.slot} failed: {message}")

    def _collect(self, timeout_us: int) -> bool:
        if self._pipe.closed:
            raise error_for("job_failed", f"job on slot {self.slot}: the session was closed")
        try:
            done, reason, message = self._pipe.wait(self.slot, self._seq, timeout_us)
        except RuntimeError:  # the slot went on to another job: this one was collected already
            if self._outcome is None:
                raise
            return True
        if done:
            self._outcome = (reason, message)
        elif reason == "cancelled":  # given up (a stream or close() abandoned it)
            self._outcome = ("job_failed", "the job was given up before it finished")
        return self._outcome is not None

    def __repr__(self) -> str:
        state = "in flight" if self._outcome is None else self._outcome[0]
        return f"<Job slot={self.slot} {state}>"


class QueuedJob:
    """A job submitted with its inputs. Without a callback it keeps a copy of its outputs."""

    __slots__ = (
        "_board", "_callback", "_done", "_future", "_loop", "_out", "error", "outputs", "slot", "userdata"
    )

    def __init__(
        self,
        board: Deliveries,
        slot: int,
        callback: Callback | None,
        userdata: Any = None,
        future: asyncio.Future[Outputs] | None = None,
    ) -> None:
        self._board = board
        self.slot = slot
        self._callback = callback
        self.userdata = userdata
        self._future = future
        self._loop = future.get_loop() if future is not None else None
        self._done = False
        #: copy=False: the arrays the job writes its outputs into (the caller's, or new ones).
        self._out: list[Any] | None = None
        self.outputs: Outputs | None = None
        self.error: BaseException | None = None

    def done(self) -> bool:
        return self._done

    def wait(self, timeout: float | None = None) -> Outputs | None:
        """Waits for the job; returns its outputs (a copy), or None when it had a callback."""
        if not self._done:
            self._board.wait_for(self, timeout)
        if self.error is not None:
            raise self.error
        return self.outputs

    def __repr__(self) -> str:
        state = "in flight" if not self._done else ("failed" if self.error else "done")
        return f"<QueuedJob slot={self.slot} {state}>"


class Deliveries:
    """Called by the core's completion thread with each batch of finished jobs (GIL held)."""

    def __init__(self, output_names: tuple[str, ...] = ()) -> None:
        self._names = output_names  # outputs are handed on as Outputs, indexable by these names
        self._jobs: dict[int, QueuedJob] = {}  # by tag: registered before the job is submitted
        self._tags = itertools.count()
        self._cv = threading.Condition()
        self._pending: BaseException | None = None
        # Tasks waiting for a slot, per event loop, first come first served.
        self._slot_waiters: dict[asyncio.AbstractEventLoop, deque[asyncio.Future[None]]] = {}
        #: Callback errors raised after the first one that is still pending (those are only counted).
        self.errors_dropped = 0
        #: Results whose event loop was closed before they could be handed over (still accounted for).
        self.undeliverable = 0
        self.thread_id: int | None = None

    # -- the caller's side --------------------------------------------------------------------------
    def add(self, job: QueuedJob) -> int:
        """Registers a job about to be submitted; returns its tag."""
        tag = next(self._tags)
        self._jobs[tag] = job
        return tag

    def remove(self, tag: int) -> None:
        self._jobs.pop(tag, None)

    def raise_pending(self) -> None:
        """Raises the stored callback/job error once, then forgets it."""
        with self._cv:
            err, self._pending = self._pending, None
        if err is not None:
            raise err

    def on_completion_thread(self) -> bool:
        return self.thread_id == threading.get_ident()

    def wait_for(self, job: QueuedJob, timeout: float | None) -> None:
        if self.on_completion_thread():
            raise RuntimeError(
                "waiting for a job from a callback would wait for the callback itself to return"
            )
        limit = None
        if timeout is not None:
            duration_units(timeout, "timeout", 1)  # refuses what is not a duration
            limit = min(float(timeout), threading.TIMEOUT_MAX)
        with self._cv:  # Condition.wait releases the GIL while it blocks
            if not self._cv.wait_for(job.done, limit):
                raise WaitTimeoutError(f"job on slot {job.slot} did not finish within {timeout} s")

    async def slot_freed(self, loop: asyncio.AbstractEventLoop) -> None:
        """Returns when a delivered batch freed a slot for this task (first come, first served), or
        after 50 ms anyway (a slot may come free elsewhere: a stream, submit(k))."""
        waiter: asyncio.Future[None] = loop.create_future()
        with self._cv:
            self._slot_waiters.setdefault(loop, deque()).append(waiter)
        timer = loop.call_later(0.05, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()

    # -- the completion thread ----------------------------------------------------------------------
    def __call__(self, batch: list[tuple[int, int, bool, str, str, Outputs | None]]) -> None:
        self.thread_id = threading.get_ident()
        for_loops: dict[asyncio.AbstractEventLoop, list[tuple[QueuedJob, Outputs | None]]] = {}
        finished: list[QueuedJob] = []
        for slot, tag, done, reason, message, copied in batch:
            job = self._jobs.pop(tag, None)
            if job is None:
                continue
            job.slot = slot
            finished.append(job)
            # copy=False: the job wrote its outputs into these arrays (the core copied none).
            outputs = job._out if copied is None and done and reason == "finished" else copied
            job._out = None
            if not (done and reason == "finished") or outputs is None:
                if reason == "submit_failed":
                    text = f"submission on slot {slot} was refused: {message}"
                else:
                    text = f"job on slot {slot} {'failed' if done else 'was given up'}: {message}"
                job.error = error_for(reason, text)
                if job._loop is not None:
                    for_loops.setdefault(job._loop, []).append((job, None))
                else:
                    self._keep(job.error)
                continue
            # The outputs were copied out of the slot (which already runs the next frame), or
            # written into the job's own arrays (copy=False): arrays of the job's own.
            named = _outputs.Outputs(outputs, self._names)
            if job._loop is not None:
                for_loops.setdefault(job._loop, []).append((job, named))
                continue
            try:
                if job._callback is not None:
                    job._callback(named, job)
                else:
                    job.outputs = named
            except BaseException as e:  # handed to the next sync point
                self._keep(e)
        with self._cv:
            for job in finished:
                job._done = True
            self._cv.notify_all()
            # As many waiters as this batch freed slots (a thundering herd costs a task switch each).
            waiting: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
            freed = len(finished)
            for loop, queue in self._slot_waiters.items():
                while queue and freed > 0:
                    waiter = queue.popleft()
                    if not waiter.done():
                        waiting.setdefault(loop, []).append(waiter)
                        freed -= 1
        # One event-loop wake-up per loop and batch: it settles the results and wakes the tasks
        # waiting for a slot (the core releases this batch's slots before the GIL goes).
        for loop in for_loops.keys() | waiting.keys():
            items = for_loops.get(loop, [])
            try:
                loop.call_soon_threadsafe(_settle, items, waiting.get(loop, []))
            except RuntimeError:  # the loop is closed: nobody can take these results any more
                self.undeliverable += len(items)

    def _keep(self, error: BaseException) -> None:
        with self._cv:
            if self._pending is None:
                self._pending = error
            else:
                self.errors_dropped += 1


def _settle(
    items: list[tuple[QueuedJob, Outputs | None]], waiters: list[asyncio.Future[None]]
) -> None:  # on the event loop
    for job, outputs in items:
        fut = job._future
        if fut is None or fut.done():  # cancelled by its task (e.g. asyncio.wait_for)
            continue
        if job.error is not None:
            fut.set_exception(job.error)
        else:
            fut.set_result(outputs or [])
    for waiter in waiters:
        _wake(waiter)


def _wake(waiter: asyncio.Future[None]) -> None:  # on the event loop
    if not waiter.done():
        waiter.set_result(None)
