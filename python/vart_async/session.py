"""Sessions: one model on one engine with K preallocated job slots."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal

import numpy.typing as npt

from vart_async import _config, _core, _engines, _inputs, _outputs, _quant, _run, _staging, _zero_copy
from vart_async._completion import FOREVER_US, Callback, Deliveries, Job, QueuedJob, duration_units
from vart_async._errors import (
    EngineError,
    Interrupted,
    PipelineClosedError,
    WaitTimeoutError,
    error_for,
    raise_for_run,
)
from vart_async._specs import SlotView, TensorSpec
from vart_async.results import RunResult

#: Default time a wait may take before the job is declared stuck (the sample's 30 s).
DEFAULT_WAIT_TIMEOUT_S = 30.0
#: Default adaptive spin before blocking on a reported completion (see Session).
DEFAULT_SPIN_US = 100
#: Most job slots a session may have.
MAX_JOBS = 4096
#: Default bound on the bytes of all slot buffers together (see Session).
DEFAULT_MAX_SLOT_BYTES = 16 << 30
_UINT64_MAX = 2**64 - 1


class Session:
    """One model on one engine with `jobs` preallocated job slots. Use vart_async.open().

    spin_us: on engines that report completions (OpenVINO), a host loop about to block on the
    next completion first polls for up to this many microseconds while recent waits were that
    short (adaptive spin-then-block: with jobs of a few microseconds a thread's wake-up costs more
    than the job). It trades host CPU for throughput on short jobs only; 0 always blocks.

    max_slot_bytes: the buffers of all slots together may not exceed this (a clear ValueError
    before anything is allocated otherwise).

    Threads: every method may be called from any thread. Calls that would conflict raise
    RuntimeError at once instead of waiting or crashing: close() while another thread runs,
    streams or waits; run() while a stream, submit(k) or callback job holds a slot; submit(k) on
    a slot in use (ValueError); stepping one stream from two threads. Several threads may
    submit(inputs) and wait on jobs at once; cancel() works from anywhere.
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        engine: str = "auto",
        jobs: int | Literal["auto"] = 2,
        *,
        spin_us: int = DEFAULT_SPIN_US,
        max_slot_bytes: int = DEFAULT_MAX_SLOT_BYTES,
        properties: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        auto = jobs == "auto"
        if not auto and (isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= MAX_JOBS):
            raise ValueError(f"jobs must be an integer from 1 to {MAX_JOBS} or 'auto' (got {jobs!r})")
        if isinstance(max_slot_bytes, bool) or not isinstance(max_slot_bytes, int) or not (
            0 < max_slot_bytes <= _UINT64_MAX
        ):
            raise ValueError(f"max_slot_bytes must be a positive integer (got {max_slot_bytes!r})")
        if isinstance(spin_us, bool) or not isinstance(spin_us, int) or not 0 <= spin_us <= 10**9:
            raise ValueError(f"spin_us must be an integer >= 0 (got {spin_us!r})")
        self.model = os.fspath(model)
        #: The options as given (engine options and raw runtime properties), for reports.
        self.options: dict[str, Any] = {**options, **_config.check_properties(properties)}
        t0 = time.perf_counter()
        self.engine, capsule = _engines.create(model, engine, self.options, None if auto else int(jobs))
        #: Seconds the engine took to load the model (read + compile): the cold start.
        self.load_s = time.perf_counter() - t0
        #: How the number of jobs was chosen ("given", or what jobs="auto" read from the engine).
        self.jobs_from = "given"
        if auto:
            jobs, self.jobs_from = _config.auto_jobs(_core.engine_info(capsule))
        assert isinstance(jobs, int)
        try:
            self._pipe: Any = _core.Pipeline(capsule, jobs, max_slot_bytes)
        except ValueError as e:
            raise ValueError(f"{self.engine}: {e}") from None
        except (RuntimeError, MemoryError) as e:
            raise EngineError(f"{self.engine}: cannot allocate {jobs} job slots: {e}") from None
        del capsule  # the pipeline holds the engine now
        self._pipe.set_spin(spin_us)
        self.spin_us = spin_us
        info = self._pipe.info()
        self.info: dict[str, Any] = info
        self.emulated: bool = bool(info["emulated"])
        self.runtime: str = str(info["runtime"])
        self.model_name: str = str(info["model_name"])
        #: Input rows one job takes (a frame is one input row: FPS counts these).
        self.batch_size: int = int(info["batch_size"])
        #: Output rows one job writes: the leading dimension of the output arrays. Equal to
        #: batch_size, except for VART models whose output batch differs (get_batch_size(OUTPUT)).
        self.output_batch_size: int = int(info.get("output_batch_size", self.batch_size))
        self.inputs = tuple(TensorSpec.from_native(t) for t in info["inputs"])
        self.outputs = tuple(TensorSpec.from_native(t) for t in info["outputs"])
        self.slots = tuple(
            SlotView(k, tuple(self._pipe.inputs(k)), tuple(self._pipe.outputs(k))) for k in range(jobs)
        )
        self._busy_timeout_ms = math.ceil(DEFAULT_WAIT_TIMEOUT_S * 1000)
        self._wait_timeout_ms = math.ceil(DEFAULT_WAIT_TIMEOUT_S * 1000)
        # Where the completion thread delivers callback jobs, and the native side of submitting
        # them (both made with the first of them).
        self._board: Deliveries | None = None
        self._refusals: tuple[list[str], list[str]] | None = None  # per tensor: why copy=False cannot bind it
        self._sub: Any = None

    # -- lifetime ---------------------------------------------------------------------------------
    @property
    def jobs(self) -> int:
        return len(self.slots)

    @property
    def closed(self) -> bool:
        return bool(self._pipe.closed)

    def close(self) -> None:
        """Delivers the callback jobs in flight, waits for every other job, then frees the slots.

        Slot arrays you still hold stay valid. Raises a callback's stored exception, if one is
        still pending, and RuntimeError while another thread is running, streaming or waiting on
        the session, or from inside a callback (nothing is freed then). Jobs that never finish are
        waited for at most 2 s all together (Ctrl-C stops that wait); their buffers are never
        freed while the runtime may still use them.
        """
        if self._pipe.closed:
            return
        self._pipe.close()
        if self._board is not None:
            self._board.raise_pending()

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
        batch = f"{self.batch_size}" + (
            f"->{self.output_batch_size}" if self.output_batch_size != self.batch_size else ""
        )
        return f"<Session {self.engine}{kind} model={self.model!r} jobs={self.jobs} batch={batch}>"

    def _native(self) -> Any:
        if self._pipe.closed:
            raise PipelineClosedError("the session is closed")
        return self._pipe

    # -- quantization -----------------------------------------------------------------------------
    def quantize(self, tensor: str | int, array: Any) -> npt.NDArray[Any]:
        """A float array in tensor's CPU view (its shape and layout, e.g. NCHW) as a new array in its
        HW view (e.g. int8 NHWC): how to fill HW-typed slot arrays from float frames.

        `tensor`: a name (inputs, then outputs) or an input's index. Quantizes with the tensor's
        `quant` (round(x / scale) + zero_point by its rounding mode, saturating at the type's
        limits, NaN -> zero point), or converts to bfloat16 / float16; the layout is reordered
        (permutations such as NCHW <-> NHWC). Element passes run in C++. ValueError for a wrong
        shape, a tensor without quantization parameters, or a layout it cannot reorder.
        """
        return _quant.quantize(self._tensor(tensor, self.inputs), array)

    def dequantize(self, tensor: str | int, array: Any) -> npt.NDArray[Any]:
        """An array in tensor's HW view (its dtype and shape) as a new float32 array in its CPU view:
        (q - zero_point) * scale, reordered back. `tensor`: a name or an output's index."""
        return _quant.dequantize(self._tensor(tensor, self.outputs), array)

    def _tensor(self, tensor: str | int, by_index: tuple[TensorSpec, ...]) -> TensorSpec:
        if isinstance(tensor, str):
            for spec in (*self.inputs, *self.outputs):
                if spec.name == tensor:
                    return spec
            names = ", ".join(repr(t.name) for t in (*self.inputs, *self.outputs))
            raise ValueError(f"the model has no tensor {tensor!r} (it has {names})")
        if isinstance(tensor, bool) or not isinstance(tensor, int) or not 0 <= tensor < len(by_index):
            raise ValueError(
                f"tensor must be a name or an index from 0 to {len(by_index) - 1} (got {tensor!r})"
            )
        return by_index[tensor]

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
        max_records: int = 100_000,
        frames: Sequence[Sequence[npt.NDArray[Any]]] | None = None,
        rate: float | None = None,
        arrival: Literal["constant", "poisson"] = "constant",
        seed: int = 0,
        drop_late: bool = False,
        max_in_flight: int | None = None,
    ) -> RunResult:
        """Runs jobs over the slots' current inputs, entirely in C++ with the GIL released.

        `iterations` jobs, or for `time_limit` seconds; with both, until both are met. Async keeps
        every slot in flight (prime, steady state, drain); sync runs one job at a time. Jobs that
        fail or time out raise a RunError carrying the partial result; Ctrl-C drains what is in
        flight and raises Interrupted (a KeyboardInterrupt) carrying it.

        Jobs are collected as they finish when the engine reports completions (OpenVINO; VART with
        completion="callback", the default), which
        keeps every slot busy when one job is slow; `in_order=True` always waits for the oldest job
        first (FIFO, as vart_infer_async does). `result.collected` says which happened.

        `progress(submitted, completed)` is called every `progress_interval` seconds from the
        calling thread while the run goes on (never from the C++ loop).

        Memory stays flat however long the run: the first `max_records` jobs keep their timestamps
        (timeline, exact latencies); every job's latency also goes into a fixed-size histogram, from
        which the statistics come once jobs were left out (`result.latency_exact` is then False;
        percentiles within 0.4 %).

        `frames`: real inputs, one per job (a sequence of arrays, one per model input, each of the
        input's dtype and size), cycled: job i runs on frames[i % len(frames)], copied into its
        slot just before it is submitted (the copy is not part of its latency). Without frames the
        slots' inputs are replayed as they are (see fill_random).

        `rate` (jobs per second): an open loop. Jobs arrive on a schedule (`arrival` "constant", or
        "poisson" from `seed`) whether or not a slot is free, as frames from a camera do; each job's
        latency runs from its arrival, so a backlog shows in the percentiles. `iterations` counts
        arrivals. `drop_late`: an arrival that finds every slot busy is dropped (counted in
        `result.dropped`) instead of waiting. `result.rate_report()` has the target and achieved
        rates and the late jobs. The schedule runs in C++ without the GIL.

        `max_in_flight`: at most this many jobs in flight (default: every slot).
        """
        args = _run.native_args(
            self.jobs,
            self.inputs,
            iterations=iterations,
            time_limit=time_limit,
            mode=mode,
            in_order=in_order,
            wait_timeout=wait_timeout,
            warmup=warmup,
            max_records=max_records,
            frames=frames,
            rate=rate,
            arrival=arrival,
            seed=seed,
            drop_late=drop_late,
            max_in_flight=max_in_flight,
        )
        pipe = self._native()
        report = None if progress is None else (lambda: progress(*pipe.progress()))
        raw, interrupted = _run.interruptible(lambda: pipe.run(*args), pipe.cancel, report, progress_interval)
        result = RunResult.from_native(
            raw, mode=mode, jobs=self.jobs, batch_size=self.batch_size, rate_fps=rate or 0.0, arrival=arrival
        )
        if interrupted:
            raise Interrupted(result)
        raise_for_run(result, f"{self.engine} run on {self.model}")
        return result

    def fill_random(self, seed: int = 0) -> None:
        """Fills every slot's inputs with reproducible random values by dtype: floats uniform in
        [0, 1) (no NaN, Inf or denormals), integers over their dtype's range, booleans 0/1."""
        _inputs.fill_random(self, seed)

    def cancel(self) -> None:
        """Stops a run() in progress in another thread: no new submissions, in-flight jobs drain."""
        self._native().cancel()

    def submit(
        self,
        slot_or_inputs: Any,
        *,
        callback: Callback | None = None,
        userdata: Any = None,
        busy_timeout: float = DEFAULT_WAIT_TIMEOUT_S,
        copy: bool = True,
        out: Any = None,
    ) -> Any:
        """Starts a job and returns at once (the GIL is released while the runtime is called).

        `submit(k)` runs slot k with whatever its input arrays hold and returns a `Job` (your own
        loop: wait on it before you touch slot k). `submit(inputs, callback=fn)` copies `inputs` (an
        array, a list of arrays or a name→array dict) into a free slot — waiting for one if all are
        in flight — and returns a `QueuedJob` (`job.userdata` is `userdata`). With every slot busy,
        up to `jobs` more frames wait (copied) in a backlog that the completion thread submits the
        moment a slot frees; beyond that, submit() waits for room. The core's completion thread
        collects jobs as they finish, copies their outputs out (the slot takes the next frame at
        once) and calls `fn(outputs, job)` with those arrays, which are the job's own (without a
        callback, `job.wait()` returns them). A
        callback's exception is raised once, with its type, at the next sync point (submit,
        wait_all, close; the frame of that submit is then not submitted); later ones while one is
        pending are only counted (`callback_errors_dropped`). From inside a callback, submit()
        works while a slot or the backlog has room and raises RuntimeError when none has (waiting
        would deadlock).
        "Busy" answers are retried with backoff for up to `busy_timeout` seconds.

        `copy=False` runs the job on your arrays themselves, nothing copied: the inputs (exactly
        the inputs' dtypes and shapes, C-contiguous, aligned) and `out` (a list or name→array dict
        of writable arrays the outputs are written into; None: new arrays). The job keeps them
        alive until it is done: do not write the inputs or read `out` before then. VART allows
        this for CPU-typed tensors only (ValueError for HW-typed ones: write into the slot arrays
        instead, or open with input_tensor_type/output_tensor_type="CPU"). `bytes_copied` shows it.
        """
        busy_ms = duration_units(busy_timeout, "busy_timeout", 1000)
        if out is not None and copy:
            raise ValueError("out= goes with copy=False (copy=True copies the outputs into new arrays)")
        if isinstance(slot_or_inputs, bool) or not isinstance(slot_or_inputs, int):
            return self._queued(slot_or_inputs, callback, userdata, busy_ms, copy=copy, out=out)
        if not copy:
            raise ValueError("copy=False goes with submit(inputs): submit(k) runs slot k on its own arrays")
        if callback is not None:
            raise ValueError("callback= goes with submit(inputs); submit(k) returns a Job to wait on")
        slot = slot_or_inputs
        if not 0 <= slot < self.jobs:
            raise ValueError(f"slot must be in 0..{self.jobs - 1} (got {slot})")
        pipe = self._native()
        try:
            reason, message, seq = pipe.submit(slot, busy_ms)
        except RuntimeError as e:  # logic errors: the slot is in use, a run holds the pipeline
            raise ValueError(str(e)) from None
        if reason != "finished":
            raise error_for(reason, f"submission on slot {slot} was refused: {message}")
        return Job(pipe, slot, seq)

    def infer(
        self,
        inputs: Any,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT_S,
        copy: bool = True,
        out: Any = None,
    ) -> list[npt.NDArray[Any]]:
        """Runs one job on `inputs` and returns its outputs (the job's own copies) once it is done:
        the synchronous convenience (OpenVINO's `infer`). Waits release the GIL; a job longer than
        `timeout` seconds raises WaitTimeoutError. For many frames, stream() keeps the slots busy.
        `copy=False` / `out=` as in submit()."""
        job: QueuedJob = self.submit(inputs, copy=copy, out=out)
        outputs = job.wait(timeout)
        assert outputs is not None  # a job without a callback keeps its outputs
        return outputs

    @property
    def callback_errors_dropped(self) -> int:
        """Callback errors raised while an earlier one was still pending (only counted)."""
        return 0 if self._board is None else self._board.errors_dropped

    def _submitter(self) -> tuple[Any, Deliveries]:
        if self._board is None or self._sub is None:
            board = Deliveries(tuple(t.name for t in self.outputs))
            # Up to `jobs` frames may wait for a slot beyond those in flight: the completion thread
            # refills a slot the moment it frees, without waiting for the submitting thread.
            self._sub = _core.Submitter(self._native(), board, self._wait_timeout_ms, self.jobs)
            self._board = board
        return self._sub, self._board

    @property
    def bytes_copied(self) -> _zero_copy.BytesCopied:
        """Bytes copied so far between your arrays and the slots' buffers: (inputs, outputs).
        Jobs on your own arrays (copy=False), run() replays and the slot arrays copy nothing."""
        return _zero_copy.BytesCopied(*self._native().bytes_copied)

    def _bindable(self, inputs: bool, outputs: bool) -> None:
        if self._refusals is None:
            self._refusals = self._native().bind_refusals()
        _zero_copy.check_bindable(self._refusals, inputs, outputs)

    def _queued(
        self,
        inputs: Any,
        callback: Callback | None,
        userdata: Any,
        busy_ms: int,
        *,
        copy: bool = True,
        out: Any = None,
    ) -> QueuedJob:
        self._native()
        _, board = self._submitter()
        board.raise_pending()
        job = QueuedJob(board, -1, callback, userdata)
        if not copy:
            self._bindable(inputs=True, outputs=True)
            inputs = _zero_copy.frame(inputs, self.slots[0].inputs, self.inputs)
            job._out = _zero_copy.outputs(out, self.slots[0].outputs, self.outputs)
        if not self._submit_job(job, inputs, busy_ms):
            raise WaitTimeoutError(f"no slot came free within {busy_ms} ms")
        return job

    def _stage(self, slot: int, inputs: Any) -> None:
        _staging.stage(self.slots[slot].inputs, inputs, self.inputs)

    def _submit_job(self, job: QueuedJob, inputs: Any, timeout_ms: int) -> bool:
        """Submits `job` (or leaves it for the next free slot), waiting up to timeout_ms for room;
        False when none came. The inputs are copied before this returns."""
        sub, board = self._submitter()
        tag = board.add(job)  # before submission: the job may finish before we return
        try:
            got = sub.submit(inputs, tag, timeout_ms, job._out)  # an exact frame: one native call
            if got < 0:  # anything else is converted as stage() does, then submitted the same way
                got = sub.submit(_staging.exact(inputs, self.slots[0].inputs, self.inputs), tag, timeout_ms)
        except BaseException:
            board.remove(tag)
            raise
        if got == 0:
            board.remove(tag)
            return False
        return True

    def wait_all(self) -> None:
        """Waits for every job from submit(inputs); raises a pending callback or job error.

        Releases the GIL; Ctrl-C raises. From inside a callback it raises RuntimeError (it would
        wait for the callback itself).
        """
        if self._board is None or self._sub is None:
            return
        self._native()
        self._sub.wait_all(FOREVER_US // 1000)
        self._board.raise_pending()

    def stream(
        self, frames: Iterable[Any], *, copy: bool = True, wait_timeout: float = DEFAULT_WAIT_TIMEOUT_S
    ) -> Iterator[list[npt.NDArray[Any]]]:
        """Runs one job per frame and yields each job's outputs in frame order.

        Each frame (an array, a list of arrays or a name→array dict) is copied into a free slot's
        input buffers; the pipeline is kept full (up to `jobs` in flight) while you consume outputs.
        A frame that already matches the slot (same dtype, C-contiguous) is copied in C++; others
        are converted as submit() does. The returned iterator is native (one call per frame); a
        frame is taken from `frames` when a slot is about to be free for it. copy=False copies
        nothing: each job reads its frame's own arrays (exactly the inputs' dtypes and shapes,
        C-contiguous, aligned; kept alive until the slot takes another job; do not write them
        meanwhile) and writes its outputs straight into new arrays of its own — or, where the
        runtime cannot write there (HW-typed VART outputs), yields the slot's own output arrays,
        valid until you ask for the next result (keep a copy of what you need beyond that). VART
        allows it for CPU-typed inputs only (ValueError for HW-typed ones: open with
        input_tensor_type="CPU"). Waits release the
        GIL; a job that takes longer than `wait_timeout` seconds raises WaitTimeoutError. After an
        error, or close(), or when the iterator is dropped, the jobs in flight are waited for. Like
        a generator, the iterator is stepped by one caller at a time (RuntimeError if another
        thread steps or closes it while it waits). A stream shares the slots with callback jobs and
        submit(k) on the same session. Not from inside a callback (RuntimeError: it could wait for
        slots only the callback frees).
        """
        pipe = self._native()
        if pipe.on_completion_thread:
            raise RuntimeError(
                "stream() from a callback could wait for slots that only the callback's return frees"
            )
        wait_ms = duration_units(wait_timeout, "wait_timeout", 1000)
        specs = self.inputs
        stage: Callable[[Any, Any], None] = lambda targets, frame: _staging.stage(targets, frame, specs)  # noqa: E731
        if not copy:
            self._bindable(inputs=True, outputs=False)
            targets = self.slots[0].inputs
            stage = lambda _, frame: _zero_copy.refuse(frame, targets, specs)  # noqa: E731
        stream: Iterator[list[npt.NDArray[Any]]] = _core.Stream(
            pipe,
            frames,
            copy,
            self._busy_timeout_ms,
            wait_ms,
            stage,
            [slot.inputs for slot in self.slots],
            [slot.outputs for slot in self.slots],
            error_for,
        )
        return _outputs.NamedStream(stream, tuple(t.name for t in self.outputs))

    async def infer_async(self, inputs: Any) -> list[npt.NDArray[Any]]:
        """Runs one job on `inputs` and returns (a copy of) its outputs, without blocking the loop.

        Results reach the event loop in batches (one wake-up per batch of finished jobs). A task
        cancelled while its job runs (e.g. by asyncio.wait_for) leaves the job to finish and be
        accounted for; a closed event loop does not stop the session's completion thread.
        """
        loop = asyncio.get_running_loop()
        self._native()
        _, board = self._submitter()
        fut: asyncio.Future[list[npt.NDArray[Any]]] = loop.create_future()
        job = QueuedJob(board, -1, None, None, fut)
        while not self._submit_job(job, inputs, 0):
            await board.slot_freed(loop)  # all slots busy: the next delivered batch frees some
        return await fut

