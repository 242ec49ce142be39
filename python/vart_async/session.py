"""Sessions: one model on one engine with K preallocated job slots."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from vart_async import _core, _engines
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
    """One model on one engine with `jobs` preallocated job slots. Use vart_async.open()."""

    def __init__(
        self, model: str | os.PathLike[str], engine: str = "auto", jobs: int = 2, **options: Any
    ) -> None:
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise ValueError(f"jobs must be an integer >= 1 (got {jobs!r})")
        self.model = os.fspath(model)
        self.engine, capsule = _engines.create(model, engine, options)
        try:
            self._pipe: Any = _core.Pipeline(capsule, jobs)
        except RuntimeError as e:
            raise EngineError(f"{self.engine}: cannot allocate {jobs} job slots: {e}") from None
        del capsule  # the pipeline holds the engine now
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

    # -- lifetime ---------------------------------------------------------------------------------
    @property
    def jobs(self) -> int:
        return len(self.slots)

    @property
    def closed(self) -> bool:
        return bool(self._pipe.closed)

    def close(self) -> None:
        """Frees the slots once no job uses them. Slot arrays you still hold stay valid."""
        if not self._pipe.closed:
            self._pipe.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

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

        `progress(submitted, completed)` is called every `progress_interval` seconds from the
        calling thread while the run goes on (never from the C++ loop).
        """
        if iterations is not None and (isinstance(iterations, bool) or not isinstance(iterations, int)
                                       or iterations < 1):
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
            lambda: pipe.run(iterations or 0, float(time_limit or 0.0), mode == "sync",
                             max(1, math.ceil(wait_timeout * 1000)), warmup),
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

    def submit(self, slot: int, *, busy_timeout: float = DEFAULT_WAIT_TIMEOUT_S) -> Job:
        """Starts a job on `slot` with its current inputs; returns at once. Releases the GIL.

        "Busy" answers from the runtime are retried with backoff for up to `busy_timeout` seconds.
        """
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

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # handed to the caller's thread below
            box["error"] = e

    worker = threading.Thread(target=target, name="vart-async-run", daemon=True)
    worker.start()
    interrupted = False
    while worker.is_alive():
        try:
            worker.join(interval)
            if report is not None and worker.is_alive():
                report()
        except KeyboardInterrupt:
            interrupted = True
            cancel()
    if "error" in box:
        raise box["error"]
    return box["value"], interrupted
