"""What a run measured: counts, throughput, latency, and every job's timestamps."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from vart_async import _core

#: Percentiles reported by default (nearest-rank, like benchmark_app's Python tool).
PERCENTILES: tuple[float, ...] = (50, 90, 99)


def percentile_key(p: float) -> str:
    """The statistics key of percentile p: "p50", "p99.9"."""
    return f"p{p:g}"


def check_percentiles(values: Sequence[float]) -> tuple[float, ...]:
    """Percentiles as given, checked: each finite and in (0, 100], no repeats; ValueError otherwise."""
    out: list[float] = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not 0 < v <= 100:
            raise ValueError(f"a percentile must be a number in (0, 100] (got {v!r})")
        if float(v) in out:
            raise ValueError(f"percentile {v:g} is given twice")
        out.append(float(v))
    if not out:
        raise ValueError("give at least one percentile")
    return tuple(out)


def percentile(sorted_ms: npt.NDArray[np.float64], p: float) -> float:
    """Nearest-rank percentile of sorted samples: the ceil(n*p/100)-th smallest."""
    n = len(sorted_ms)
    if n == 0:
        return float("nan")
    rank = max(1, int(np.ceil(n * p / 100.0)))
    return float(sorted_ms[min(rank, n) - 1])


#: RunResult counters that RunResult.concat adds up over passes.
_SUMMED = (
    "submitted",
    "completed",
    "failed",
    "cancelled",
    "busy_retries",
    "records_dropped",
    "bytes_copied_in",
    "bytes_copied_out",
    "dropped",
    "late",
    "late_total_s",
)


@dataclass(frozen=True)
class RunResult:
    """One run. Times are seconds since the run started (host steady clock).

    Latency of a job = from just before the host submitted it to when the host saw it done (the
    wait on it returned). `collected` says how jobs were collected: "completion" (as each finished,
    the engine reporting it: replay runs on OpenVINO) or "submission" (the oldest first, FIFO, so a
    job's latency includes waiting behind older ones).
    """

    mode: str
    jobs: int
    batch_size: int
    submitted: int
    completed: int
    failed: int
    cancelled: int
    busy_retries: int
    max_in_flight: int
    wall_s: float
    reason: str
    message: str
    slot: npt.NDArray[np.uint32] = field(repr=False)
    outcome: npt.NDArray[np.uint8] = field(repr=False)
    t_submit: npt.NDArray[np.float64] = field(repr=False)
    t_started: npt.NDArray[np.float64] = field(repr=False)
    t_done: npt.NDArray[np.float64] = field(repr=False)
    collected: str = "submission"
    cpu_s: float = float("nan")  # CPU time of the whole process (all threads) during the run
    #: Jobs past the per-job record bound (their timestamps are not kept; their latency is in the
    #: histogram). 0: every job's record is here and latency statistics are exact.
    records_dropped: int = 0
    latency_counts: npt.NDArray[np.uint64] | None = field(default=None, repr=False)
    first_job_ns: int = -1
    #: Bytes the run copied into the slots' inputs (run(frames=...)) and out of their outputs: 0
    #: for a replay of what the slots hold.
    bytes_copied_in: int = 0
    bytes_copied_out: int = 0
    #: Open loop (run(rate=...)): when each job was due; its latency runs from then.
    t_arrival: npt.NDArray[np.float64] | None = field(default=None, repr=False)
    rate_fps: float = 0.0  # the arrival rate asked for; 0: a closed loop
    arrival: str = ""  # "constant" or "poisson" (open loop)
    dropped: int = 0  # arrivals dropped (drop_late) because no slot was free
    late: int = 0  # jobs that started >= 1 ms after they were due
    late_max_s: float = 0.0
    late_total_s: float = 0.0
    #: When the device ran each job and on which compute unit, where the engine tells (the
    #: emulator does): NaN / -1 elsewhere.
    t_device_start: npt.NDArray[np.float64] | None = field(default=None, repr=False)
    t_device_end: npt.NDArray[np.float64] | None = field(default=None, repr=False)
    device_unit: npt.NDArray[np.int32] | None = field(default=None, repr=False)

    @classmethod
    def from_native(
        cls,
        raw: dict[str, Any],
        *,
        mode: str,
        jobs: int,
        batch_size: int,
        rate_fps: float = 0.0,
        arrival: str = "",
    ) -> RunResult:
        def seconds(key: str) -> npt.NDArray[np.float64]:
            return np.asarray(raw[key], dtype=np.float64) * 1e-9

        t_done = seconds("t_done")
        t_done[np.asarray(raw["t_done"]) < 0] = np.nan
        device: dict[str, Any] = {}
        if "t_device_start" in raw:
            for key in ("t_device_start", "t_device_end"):
                device[key] = seconds(key)
                device[key][np.asarray(raw[key]) < 0] = np.nan
            device["device_unit"] = np.asarray(raw["device_unit"], dtype=np.int32)
        return cls(
            mode=mode,
            jobs=jobs,
            batch_size=batch_size,
            submitted=int(raw["submitted"]),
            completed=int(raw["completed"]),
            failed=int(raw["failed"]),
            cancelled=int(raw["cancelled"]),
            busy_retries=int(raw["busy_retries"]),
            max_in_flight=int(raw["max_in_flight"]),
            wall_s=int(raw["wall_ns"]) * 1e-9,
            reason=str(raw["reason"]),
            message=str(raw["message"]),
            slot=np.asarray(raw["slot"]),
            outcome=np.asarray(raw["outcome"]),
            t_submit=seconds("t_submit"),
            t_started=seconds("t_started"),
            t_done=t_done,
            collected="completion" if raw.get("completion_order") else "submission",
            cpu_s=int(raw["cpu_ns"]) * 1e-9 if int(raw.get("cpu_ns", -1)) >= 0 else float("nan"),
            records_dropped=int(raw.get("records_dropped", 0)),
            latency_counts=np.asarray(raw["latency_counts"]) if "latency_counts" in raw else None,
            first_job_ns=int(raw.get("first_job_ns", -1)),
            bytes_copied_in=int(raw.get("bytes_copied_in", 0)),
            bytes_copied_out=int(raw.get("bytes_copied_out", 0)),
            t_arrival=seconds("t_arrival") if "t_arrival" in raw else None,
            rate_fps=rate_fps,
            arrival=arrival if rate_fps > 0 else "",
            dropped=int(raw.get("dropped", 0)),
            late=int(raw.get("late", 0)),
            late_max_s=int(raw.get("late_max_ns", 0)) * 1e-9,
            late_total_s=int(raw.get("late_total_ns", 0)) * 1e-9,
            **device,
        )

    @classmethod
    def concat(cls, results: Sequence[RunResult]) -> RunResult:
        """Consecutive runs of one session as one (counts summed, records back to back in time,
        latency histograms added): e.g. the last windows of a --stable measurement."""
        if not results:
            raise ValueError("concat needs at least one result")
        first, last = results[0], results[-1]
        offsets = np.cumsum([0.0] + [r.wall_s for r in results[:-1]])

        def joined(key: str) -> npt.NDArray[Any]:
            return np.concatenate([getattr(r, key) + off for r, off in zip(results, offsets, strict=True)])

        counts = [r.latency_counts for r in results]
        devices = all(r.t_device_start is not None for r in results)
        arrivals = [r.t_arrival for r in results]
        return replace(
            last,
            **{f: sum(getattr(r, f) for r in results) for f in _SUMMED},
            max_in_flight=max(r.max_in_flight for r in results),
            wall_s=float(sum(r.wall_s for r in results)),
            slot=np.concatenate([r.slot for r in results]),
            outcome=np.concatenate([r.outcome for r in results]),
            t_submit=joined("t_submit"),
            t_started=joined("t_started"),
            t_done=joined("t_done"),
            t_arrival=None if any(a is None for a in arrivals) else joined("t_arrival"),
            t_device_start=joined("t_device_start") if devices else None,
            t_device_end=joined("t_device_end") if devices else None,
            device_unit=np.concatenate([r.device_unit for r in results if r.device_unit is not None])
            if devices
            else None,
            cpu_s=float(sum(r.cpu_s for r in results)),
            latency_counts=_sum_counts(counts),
            first_job_ns=first.first_job_ns,
            late_max_s=max(r.late_max_s for r in results),
        )

    @property
    def device_known(self) -> bool:
        """True when the engine told when the device ran (some of) the jobs."""
        return self.t_device_start is not None and bool(np.isfinite(self.t_device_start).any())

    @property
    def latency_exact(self) -> bool:
        """True when every job's record is kept: latency statistics are then exact, else they are
        read from the fixed-size histogram (within LATENCY_RELATIVE_ERROR)."""
        return self.records_dropped == 0 or self.latency_counts is None

    @property
    def ok(self) -> bool:
        return self.reason == "finished"

    @property
    def frames(self) -> int:
        """Frames (batch rows) processed by completed jobs."""
        return self.completed * self.batch_size

    @property
    def fps(self) -> float:
        """Frames per second: completed jobs x batch size / wall time."""
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def jobs_per_s(self) -> float:
        return self.completed / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def latencies_ms(self) -> npt.NDArray[np.float64]:
        """Latency of every completed job, in submission order (ms); open loop: from its arrival."""
        done = self.outcome == _core.OUTCOME_COMPLETED
        start = self.t_arrival if self.rate_fps > 0 and self.t_arrival is not None else self.t_submit
        latencies: npt.NDArray[np.float64] = (self.t_done[done] - start[done]) * 1e3
        return latencies

    def rate_report(self) -> dict[str, Any] | None:
        """Open loop: the target and achieved rates, late and dropped jobs (None for a closed loop)."""
        if self.rate_fps <= 0:
            return None
        arrivals = self.submitted + self.dropped
        return {
            "target_fps": self.rate_fps * self.batch_size,
            "target_jobs_per_s": self.rate_fps,
            "arrival": self.arrival,
            "achieved_fps": self.fps,
            "achieved_jobs_per_s": self.jobs_per_s,
            "arrivals": arrivals,
            "late": self.late,
            "late_threshold_ms": 1.0,
            "late_max_ms": self.late_max_s * 1e3,
            "late_mean_ms": self.late_total_s * 1e3 / self.submitted if self.submitted else 0.0,
            "dropped": self.dropped,
        }

    def latency_stats(self, percentiles: Sequence[float] = PERCENTILES) -> dict[str, float]:
        """min, mean, the percentiles (keys "p50", "p99.9", ...) and max, in ms."""
        if not self.latency_exact:
            return _histogram_stats(self.latency_counts, percentiles)
        lat = np.sort(self.latencies_ms)
        if len(lat) == 0:
            return _nan_stats(percentiles)
        stats = {"min": float(lat[0]), "mean": float(lat.mean())}
        stats.update({percentile_key(p): percentile(lat, p) for p in percentiles})
        stats["max"] = float(lat[-1])
        return stats

    def summary_line(self) -> str:
        return (
            f"{self.completed}/{self.submitted} jobs completed, {self.failed} failed, "
            f"{self.cancelled} cancelled in {self.wall_s:.3f} s"
        )

    @property
    def first_job_ms(self) -> float:
        """Latency of the first job of the run() call (its warm-up's first, if any): on a fresh
        session, the first inference (cold start). NaN when it did not complete."""
        return self.first_job_ns * 1e-6 if self.first_job_ns >= 0 else float("nan")

    def to_dict(self, percentiles: Sequence[float] = PERCENTILES) -> dict[str, Any]:
        """The machine-readable report of this run."""
        return {
            "mode": self.mode,
            "jobs": self.jobs,
            "batch_size": self.batch_size,
            "submitted": self.submitted,
            "completed": self.completed,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "busy_retries": self.busy_retries,
            "bytes_copied": {"inputs": self.bytes_copied_in, "outputs": self.bytes_copied_out},
            "max_in_flight": self.max_in_flight,
            "wall_s": self.wall_s,
            "throughput_fps": self.fps,
            "latency_ms": self.latency_stats(percentiles),
            "latency_exact": self.latency_exact,
            "latency_relative_error": 0.0 if self.latency_exact else _core.LATENCY_RELATIVE_ERROR,
            "records_kept": len(self.t_submit),
            "reason": self.reason,
            "message": self.message,
            "collected": self.collected,
            "process_cpu_s": None if math.isnan(self.cpu_s) else self.cpu_s,
            **({"rate": self.rate_report()} if self.rate_fps > 0 else {}),
        }


def _sum_counts(counts: Sequence[npt.NDArray[np.uint64] | None]) -> npt.NDArray[np.uint64] | None:
    present = [c for c in counts if c is not None]
    if len(present) != len(counts):
        return None
    total: npt.NDArray[np.uint64] = np.sum(np.stack(present), axis=0, dtype=np.uint64)
    return total


def _nan_stats(percentiles: Sequence[float]) -> dict[str, float]:
    nan = float("nan")
    return {"min": nan, "mean": nan, **{percentile_key(p): nan for p in percentiles}, "max": nan}


def _histogram_stats(counts: npt.NDArray[np.uint64] | None, percentiles: Sequence[float]) -> dict[str, float]:
    """Latency statistics (ms) from the core's histogram: each value read as its bucket's middle."""
    total = 0 if counts is None else int(counts.sum())
    if counts is None or total == 0:
        return _nan_stats(percentiles)
    lower = _core.LATENCY_BUCKET_LOWER_NS.astype(np.float64)
    middle_ms = (lower[:-1] + lower[1:]) * 0.5e-6
    cumulative = np.cumsum(counts)
    used = np.nonzero(counts)[0]

    def nearest_rank(p: float) -> float:
        rank = max(1, math.ceil(total * p / 100.0))
        return float(middle_ms[int(np.searchsorted(cumulative, rank))])

    stats = {"min": float(middle_ms[used[0]]), "mean": float((counts * middle_ms).sum() / total)}
    stats.update({percentile_key(p): nearest_rank(p) for p in percentiles})
    stats["max"] = float(middle_ms[used[-1]])
    return stats
