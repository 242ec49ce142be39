"""Sessions: one model on one engine with K preallocated job slots."""

from __future__ import annotations

import asyncio
import math
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from vart_async import _core, _engines, _staging
from vart_async._completion import Callback, CompletionQueue, QueuedJob
from vart_async._errors import (
    EngineError,
    Interrupted,
    JobFailedError,
    PipelineClosedError,
    WaitTimeoutError,
    raise_for_run,
)
from vart_async.results import RunResult

T = TypeVar("T")
#: Default time a wait may take before the job is declared stuck (the sample's 30 s).
DEFAULT_WAIT_TIMEOUT_S = 30.0
#: Default adaptive spin before blocking on a reported completion (see Session).
DEFAULT_SPIN_US = 100


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output as one job slot holds it (all batch rows)."""

    name: str
    dtype: str  # numpy name; "bfloat16" buffers are shown as uint16 arrays
    shape: tuple[int, ...]
    layout: str
    nbytes: int

    @property
    def numpy_dtype(self) -> np.dtype[Any]:
        return np.dtype("uint16" if self.dtype == "bfloat16" else self.dtype)

    @property
    def row_nbytes(self) -> int:
        """Bytes of one batch row."""
        return self.nbytes // self.shape[0] if self.shape else self.nbytes


@dataclass(frozen=True)
class SlotView:
    """Slot k's buffers as numpy arrays that *are* the engine's buffers (zero-copy).

    Each array keeps the slot alive. Write inputs only while the slot has no job in flight.
    """

    index: int
    inputs: tuple[npt.NDArray[Any], ...]
    outputs: tuple[npt.NDArray[Any], ...]


class Job:
    """A job submitted with Session.submit(k)."""

    def __init__(self, session: Session, slot: int) -> None:
        self._session = session
        self.slot = slot
        self._result: str | None = None  # None while in flight, else "ok" or the failure message

    def done(self) -> bool:
        """True once the job has finished (polls the runtime; never blocks)."""
        if self._result is None:
            self._poll(0)
        return self._result is not None

    def wait(self, timeout: float | None = None) -> None:
        """Waits for the job; None waits as long as it takes. Releases the GIL while waiting.

        Raises WaitTimeoutError after `timeout` seconds (the job stays in flight: wait again), or
        JobFailedError if the runtime reports a failure.
        """
        if self._result is None:
            if timeout is None:
                while not self._poll(1_000_000):
                    pass
            elif not self._poll(max(0, math.ceil(timeout * 1e6))):
                raise WaitTimeoutError(f"job on slot {self.slot} did not finish within {timeout} s")
        if self._result != "ok":
            raise JobFailedError(f"job on slot {self.slot} failed: {self._result}")

    def _poll(self, timeout_us: int) -> bool:
        code, message = self._session._native().wait(self.slot, timeout_us)
        if code == _core.STATUS_PENDING:
            return False
        self._result = "ok" if code == _core.STATUS_OK else (message or "failed")
        return True

    def __repr__(self) -> str:
        state = "in flight" if self._result is None else ("done" if self._result == "ok" else "failed")
        return f"<Job slot={self.slot} {state}>"


class Session:
    """One model on one engine with `jobs` preallocated job slots. Use vart_async.open().

    spin_us: on engines that report completions (OpenVINO), a host loop about to block on the
    next completion first polls for up to this many microseconds while recent waits were that
    short (adaptive spin-then-block: with jobs of a few microseconds a thread's wake-up costs more
    than the job). It trades host CPU for throughput on short jobs only; 0 always blocks.
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        engine: str = "auto",
        jobs: int = 2,
        *,
        spin_us: int = DEFAULT_SPIN_US,
        **options: Any,
    ) -> None:
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise ValueError(f"jobs must be an integer >= 1 (got {jobs!r})")
        if isinstance(spin_us, bool) or not isinstance(spin_us, int) or spin_us < 0:
            raise ValueError(f"spin_us must be an integer >= 0 (got {spin_us!r})")
        self.model = os.fspath(model)
        self.engine, capsule = _engines.create(model, engine, options, jobs)
        try:
            self._pipe: Any = _core.Pipeline(capsule, jobs)
        except RuntimeError as e:
            raise EngineError(f"{self.engine}: cannot allocate {jobs} job slots: {e}") from None
        del capsule  # the pipeline holds the engine now
        self._pipe.set_spin(spin_us)
        self.spin_us = spin_us
        info = self._pipe.info()
        self.info: dict[str, Any] = info
        self.emulated: bool = bool(info["emulated"])
        self.runtime: str = str(info["runtime"])
        self.model_name: str = str(info["model_name"])
        self.batch_size: int = int(info["batch_size"])
        self.inputs = tuple(TensorSpec(**t) for t in info["inputs"])
        self.outputs = tuple(TensorSpec(**t) for t in info["outputs"])
        self.slots = tuple(
            SlotView(k, tuple(self._pipe.inputs(k)), tuple(self._pipe.outputs(k))) for k in range(jobs)
        )
        self._busy_timeout_ms = math.ceil(DEFAULT_WAIT_TIMEOUT_S * 1000)
        self._queue: CompletionQueue | None = None

    # -- lifetime ---------------------------------------------------------------------------------
    @property
    def jobs(self) -> int:
        return len(self.slots)

    @property
    def closed(self) -> bool:
        return bool(self._pipe.closed)

    def close(self) -> None:
        """Drains submitted jobs, then frees the slots. Slot arrays you still hold stay valid.

        Raises a callback's stored exception, if one is still pending, and RuntimeError while
        another thread is running, streaming or waiting on the session (nothing is freed then).
        """
        if self._pipe.closed:
            return
        queue, self._queue = self._queue, None
        if queue is not None:
            queue.close()
        try:
            self._pipe.close()  # refused while another thread streams or waits on the session
        finally:
            if queue is not None:
                queue.raise_pending()

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.close()
        except Exception:
            if exc is None:  # never hide the exception that is already on its way out
                raise

    def __repr__(self) -> str:
        kind = " (emulated)" if self.emulated else ""
        return f"<Session {self.engine}{kind} model={self.model!r} jobs={self.jobs} batch={self.batch_size}>"

    def _native(self) -> Any:
        if self._pipe.closed:
            raise PipelineClosedError("the session is closed")
        return self._pipe

    # -- running ----------------------------------------------------------------------------------
    def run(
        self,
        iterations: int | None = None,
        time_limit: float | None = None,
        mode: Literal["async", "sync"] = "async",
        *,
        in_order: bool = False,
        wait_timeout: float = DEFAULT_WAIT_TIMEOUT_S,
        warmup: int = 0,
        progress: Callable[[int, int], None] | None = None,
        progress_interval: float = 0.25,
    ) -> RunResult:
        """Runs jobs over the slots' current inputs, entirely in C++ with the GIL released.

        `iterations` jobs, or for `time_limit` seconds; with both, until both are met. Async keeps
        every slot in flight (prime, steady state, drain); sync runs one job at a time. Jobs that
        fail or time out raise a RunError carrying the partial result; Ctrl-C drains what is in
        flight and raises Interrupted (a KeyboardInterrupt) carrying it.

        Jobs are collected as they finish when the engine reports completions (OpenVINO), which
        keeps every slot busy when one job is slow; `in_order=True` always waits for the oldest job
        first (FIFO, as vart_infer_async does). `result.collected` says which happened.

        `progress(submitted, completed)` is called every `progress_interval` seconds from the
        calling thread while the run goes on (never from the C++ loop).
        """
        if iterations is not None and (
            isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1
        ):
            raise ValueError(f"iterations must be an integer >= 1 (got {iterations!r})")
        if time_limit is not None and not time_limit > 0:
            raise ValueError(f"time_limit must be > 0 seconds (got {time_limit!r})")
        if iterations is None and time_limit is None:
            raise ValueError("give iterations, time_limit, or both")
        if mode not in ("async", "sync"):
            raise ValueError(f"mode must be 'async' or 'sync' (got {mode!r})")
        if not wait_timeout > 0:
            raise ValueError(f"wait_timeout must be > 0 seconds (got {wait_timeout!r})")
        if warmup < 0:
            raise ValueError(f"warmup must be >= 0 (got {warmup!r})")
        pipe = self._native()
        report = None if progress is None else (lambda: progress(*pipe.progress()))
        raw, interrupted = _run_interruptible(
            lambda: pipe.run(
                iterations or 0,
                float(time_limit or 0.0),
                mode == "sync",
                max(1, math.ceil(wait_timeout * 1000)),
                warmup,
                not in_order,
            ),
            pipe.cancel,
            report,
            progress_interval,
        )
        result = RunResult.from_native(raw, mode=mode, jobs=self.jobs, batch_size=self.batch_size)
        if interrupted:
            raise Interrupted(result)
        raise_for_run(result, f"{self.engine} run on {self.model}")
        return result

    def cancel(self) -> None:
        """Stops a run() in progress in another thread: no new submissions, in-flight jobs drain."""
        self._native().cancel()

    def submit(
        self,
        slot_or_inputs: Any,
        *,
        callback: Callback | None = None,
        busy_timeout: float = DEFAULT_WAIT_TIMEOUT_S,
    ) -> Any:
        """Starts a job and returns at once (the GIL is released while the runtime is called).

        `submit(k)` runs slot k with whatever its input arrays hold and returns a `Job` (your own
        loop: wait on it before you touch slot k). `submit(inputs, callback=fn)` copies `inputs` (an
        array, a list of arrays or a name→array dict) into a free slot — waiting for one if all are
        in flight — and returns a `QueuedJob`; one completion thread collects jobs in order and calls
        `fn(outputs, job)` with zero-copy views of the outputs, valid during the call (without a
        callback, `job.wait()` returns a copy). A callback's exception is raised once, with its type,
        at the next sync point (submit, wait_all, a job's wait, close). Don't mix the two forms on
        one session. "Busy" answers are retried with backoff for up to `busy_timeout` seconds.
        """
        if isinstance(slot_or_inputs, bool) or not isinstance(slot_or_inputs, int):
            return self._queued(slot_or_inputs, callback)
        if callback is not None:
            raise ValueError("callback= goes with submit(inputs); submit(k) returns a Job to wait on")
        slot = slot_or_inputs
        if not 0 <= slot < self.jobs:
            raise ValueError(f"slot must be in 0..{self.jobs - 1} (got {slot})")
        if self._pipe.closed:
            raise PipelineClosedError("the session is closed")
        try:
            code, message = self._pipe.submit(slot, max(0, math.ceil(busy_timeout * 1000)))
        except RuntimeError as e:  # logic errors: the slot is in use
            raise ValueError(str(e)) from None
        if code == _core.STATUS_BUSY:
            raise WaitTimeoutError(f"the runtime stayed busy for {busy_timeout} s (slot {slot})")
        if code != _core.STATUS_OK:
            raise EngineError(f"submission on slot {slot} was refused: {message}")
        return Job(self, slot)

    def _queued(
        self, inputs: Any, callback: Callback | None, on_error: Callable[[BaseException], None] | None = None
    ) -> QueuedJob:
        self._native()
        if self._queue is None:
            self._queue = CompletionQueue(self)
        return self._queue.submit(inputs, callback, on_error)

    def _stage(self, slot: int, inputs: Any) -> None:
        _staging.stage(self.slots[slot].inputs, inputs, self.inputs)

    def wait_all(self) -> None:
        """Waits for every job from submit(inputs); raises a pending callback or job error."""
        if self._queue is not None:
            self._queue.wait_all()

    def stream(
        self, frames: Iterable[Any], *, copy: bool = True, wait_timeout: float = DEFAULT_WAIT_TIMEOUT_S
    ) -> Iterator[list[npt.NDArray[Any]]]:
        """Runs one job per frame and yields each job's outputs in frame order.

        Each frame (an array, a list of arrays or a name→array dict) is copied into a free slot's
        input buffers; the pipeline is kept full (up to `jobs` in flight) while you consume outputs.
        A frame that already matches the slot (same dtype, C-contiguous) is copied in C++; others
        are converted as submit() does. The returned iterator is native (one call per frame); a
        frame is taken from `frames` when a slot is about to be free for it. copy=False yields the
        slot's own output arrays (zero-copy), valid until you ask for the next result — keep a copy
        of what you need beyond that. Waits release the GIL; a job that takes longer than
        `wait_timeout` seconds raises WaitTimeoutError. After an error, or close(), or when the
        iterator is dropped, the jobs in flight are waited for. Like a generator, the iterator is
        stepped by one caller at a time (RuntimeError if another thread steps or closes it while
        it waits).
        """
        pipe = self._native()
        if self._queue is not None:
            self._queue.wait_all()
        if not wait_timeout > 0:
            raise ValueError(f"wait_timeout must be > 0 seconds (got {wait_timeout!r})")
        specs = self.inputs
        try:
            stream: Iterator[list[npt.NDArray[Any]]] = _core.Stream(
                pipe,
                frames,
                copy,
                self._busy_timeout_ms,
                max(1, math.ceil(wait_timeout * 1000)),
                lambda targets, frame: _staging.stage(targets, frame, specs),
                [slot.inputs for slot in self.slots],
                [slot.outputs for slot in self.slots],
                (EngineError, JobFailedError, WaitTimeoutError),
            )
        except RuntimeError as e:  # every slot holds a job from submit(k)
            raise ValueError(str(e)) from None
        return stream

    async def infer_async(self, inputs: Any) -> list[npt.NDArray[Any]]:
        """Runs one job on `inputs` and returns (a copy of) its outputs, without blocking the loop."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[list[npt.NDArray[Any]]] = loop.create_future()

        def deliver(outputs: list[npt.NDArray[Any]], job: QueuedJob) -> None:  # completion thread
            copies = [o.copy() for o in outputs]
            loop.call_soon_threadsafe(_settle, fut, copies, None)

        def fail(error: BaseException) -> None:  # completion thread
            loop.call_soon_threadsafe(_settle, fut, None, error)

        if self._queue is not None and self._queue.has_free_slot():
            self._queued(inputs, deliver, fail)
        else:  # all slots busy (or first use): wait for one off the event loop
            await loop.run_in_executor(None, self._queued, inputs, deliver, fail)
        return await fut


def _settle(fut: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if fut.cancelled():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(value)


def _run_interruptible(
    fn: Callable[[], T],
    cancel: Callable[[], None],
    report: Callable[[], None] | None = None,
    interval: float = 0.25,
) -> tuple[T, bool]:
    """Runs `fn` (which releases the GIL) so that Ctrl-C in the main thread can cancel it.

    Python only handles signals in the main thread between bytecodes, so the native run goes to a
    worker thread while the calling thread waits interruptibly, calling `report` every `interval`;
    Ctrl-C calls `cancel` (a second Ctrl-C stops the drain) and the partial result still comes back.
    """
    if report is None and threading.current_thread() is not threading.main_thread():
        return fn(), False
    box: dict[str, Any] = {}
    finished = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # handed to the caller's thread below
            box["error"] = e
        finally:
            finished.set()

    # An explicit event, not Thread.is_alive(): after Ctrl-C interrupts a join(), is_alive() can
    # report False while the thread still runs (CPython gh-90882).
    worker = threading.Thread(target=target, name="vart-async-run", daemon=True)
    worker.start()
    interrupted = False
    while not finished.is_set():
        try:
            if not finished.wait(interval) and report is not None:
                report()
        except KeyboardInterrupt:
            interrupted = True
            cancel()
    if "error" in box:
        raise box["error"]
    return box["value"], interrupted
