"""run()'s arguments checked and put in the native call's order, and the wait that lets Ctrl-C in
the main thread cancel a native run."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy.typing as npt

from vart_async import _inputs
from vart_async._completion import duration_units

T = TypeVar("T")
_UINT64_MAX = 2**64 - 1


def native_args(
    jobs: int,
    inputs: Sequence[Any],
    *,
    iterations: int | None,
    time_limit: float | None,
    mode: str,
    in_order: bool,
    wait_timeout: float,
    warmup: int,
    max_records: int,
    frames: Sequence[Sequence[npt.NDArray[Any]]] | None,
    rate: float | None,
    arrival: str,
    seed: int,
    drop_late: bool,
    max_in_flight: int | None,
) -> tuple[Any, ...]:
    """Session.run()'s arguments, each checked (ValueError naming it), as Pipeline.run takes them."""
    if iterations is not None and (
        isinstance(iterations, bool)
        or not isinstance(iterations, int)
        or not 1 <= iterations <= _UINT64_MAX
    ):
        raise ValueError(f"iterations must be an integer from 1 to 2**64-1 (got {iterations!r})")
    if time_limit is not None:
        duration_units(time_limit, "time_limit", 1)  # inf: no limit
    if iterations is None and time_limit is None:
        raise ValueError("give iterations, time_limit, or both")
    if mode not in ("async", "sync"):
        raise ValueError(f"mode must be 'async' or 'sync' (got {mode!r})")
    wait_ms = duration_units(wait_timeout, "wait_timeout", 1000)
    if isinstance(max_records, bool) or not isinstance(max_records, int) or not 0 <= max_records <= 10**9:
        raise ValueError(f"max_records must be an integer from 0 to 10**9 (got {max_records!r})")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or not 0 <= warmup <= _UINT64_MAX:
        raise ValueError(f"warmup must be an integer from 0 to 2**64-1 (got {warmup!r})")
    bad_rate = isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate)
    if rate is not None and (bad_rate or rate <= 0):
        raise ValueError(f"rate must be a positive number of jobs per second (got {rate!r})")
    if arrival not in ("constant", "poisson"):
        raise ValueError(f"arrival must be 'constant' or 'poisson' (got {arrival!r})")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _UINT64_MAX:
        raise ValueError(f"seed must be an integer from 0 to 2**64-1 (got {seed!r})")
    depth = jobs if max_in_flight is None else max_in_flight
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= jobs:
        raise ValueError(f"max_in_flight must be from 1 to {jobs} (got {max_in_flight!r})")
    staged = [] if frames is None else [list(f) for f in _inputs.check_frames(frames, inputs)]
    return (
        iterations or 0,
        float(time_limit or 0.0),
        mode == "sync",
        wait_ms,
        warmup,
        not in_order,
        max_records,
        staged,
        float(rate or 0.0),
        arrival == "poisson",
        seed,
        bool(drop_late),
        depth,
    )


def interruptible(
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
