"""Jobs submitted with their inputs: one completion thread collects them in order and runs callbacks.

The C++ side keeps no Python state: this thread blocks in the native wait (GIL released), then
takes the GIL to run the user's callback. A callback's exception is stored, raised once with its
type at the next sync point (submit, wait_all, a job's wait, close), then cleared.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy.typing as npt

from vart_async import _core
from vart_async._errors import JobFailedError, WaitTimeoutError

if TYPE_CHECKING:
    from vart_async.session import Session

Outputs = list[npt.NDArray[Any]]
Callback = Callable[[Outputs, "QueuedJob"], None]


class QueuedJob:
    """A job submitted with inputs. Without a callback it keeps a copy of its outputs."""

    def __init__(
        self, slot: int, callback: Callback | None, on_error: Callable[[BaseException], None] | None
    ):
        self.slot = slot
        self._callback = callback
        self._on_error = on_error
        self._done = threading.Event()
        self.outputs: Outputs | None = None
        self.error: BaseException | None = None

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> Outputs | None:
        """Waits for the job; returns its outputs (a copy), or None when it had a callback."""
        if not self._done.wait(timeout):
            raise WaitTimeoutError(f"job on slot {self.slot} did not finish within {timeout} s")
        if self.error is not None:
            raise self.error
        return self.outputs

    def __repr__(self) -> str:
        state = "in flight" if not self.done() else ("failed" if self.error else "done")
        return f"<QueuedJob slot={self.slot} {state}>"


class CompletionQueue:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._cv = threading.Condition()
        self._free: deque[int] = deque(range(session.jobs))
        self._inflight: deque[QueuedJob] = deque()
        self._pending_error: BaseException | None = None
        self._closing = False
        self._thread: threading.Thread | None = None

    # -- sync points --------------------------------------------------------------------------------
    def raise_pending(self) -> None:
        """Raises the stored callback/job error once, then forgets it."""
        with self._cv:
            err, self._pending_error = self._pending_error, None
        if err is not None:
            raise err

    def has_free_slot(self) -> bool:
        with self._cv:
            return bool(self._free)

    def submit(
        self, inputs: Any, callback: Callback | None, on_error: Callable[[BaseException], None] | None = None
    ) -> QueuedJob:
        self.raise_pending()
        with self._cv:
            while not self._free:  # Condition.wait releases the GIL while it blocks
                self._cv.wait()
            slot = self._free.popleft()
        s = self._session
        try:
            s._stage(slot, inputs)
            code, message = s._native().submit(slot, s._busy_timeout_ms)
            if code != _core.STATUS_OK:
                raise JobFailedError(f"submission on slot {slot} was refused: {message or 'runtime busy'}")
        except BaseException:
            with self._cv:
                self._free.appendleft(slot)
                self._cv.notify_all()
            raise
        job = QueuedJob(slot, callback, on_error)
        with self._cv:
            self._inflight.append(job)
            self._cv.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._collect, name="vart-async-completion", daemon=True
                )
                self._thread.start()
        return job

    def wait_all(self) -> None:
        with self._cv:
            while self._inflight:
                self._cv.wait()
        self.raise_pending()

    def close(self) -> None:
        """Drains the jobs in flight and stops the completion thread."""
        with self._cv:
            self._closing = True
            self._cv.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()

    # -- the completion thread ----------------------------------------------------------------------
    def _collect(self) -> None:
        pipe = self._session._pipe
        while True:
            with self._cv:
                while not self._inflight and not self._closing:
                    self._cv.wait()
                if not self._inflight:
                    return
                job = self._inflight[0]
            code, message = pipe.wait(job.slot, 1_000_000)  # releases the GIL while it blocks
            while code == _core.STATUS_PENDING:
                code, message = pipe.wait(job.slot, 1_000_000)
            error: BaseException | None = None
            if code != _core.STATUS_OK:
                error = JobFailedError(f"job on slot {job.slot} failed: {message}")
            else:
                outputs = list(self._session.slots[job.slot].outputs)
                try:
                    if job._callback is not None:
                        job._callback(outputs, job)  # zero-copy views, valid during the call
                    else:
                        job.outputs = [o.copy() for o in outputs]
                except BaseException as e:  # handed to the next sync point
                    error = e
            job.error = error if code != _core.STATUS_OK else None
            if error is not None and job._on_error is not None:
                job._on_error(error)
            elif error is not None:
                with self._cv:
                    if self._pending_error is None:
                        self._pending_error = error
            with self._cv:
                self._inflight.popleft()
                self._free.append(job.slot)
                self._cv.notify_all()
            job._done.set()
