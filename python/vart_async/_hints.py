"""Where a job's time goes, and hints when a run looks wrong (as trtexec warns): host-bound, unstable,
warm-up too short, starved by the arrival rate. Each hint says what it saw."""

from __future__ import annotations

import math
import os

import numpy as np

from vart_async import _core
from vart_async.results import RunResult

#: A run is unstable when the throughput of its fifths varies more than this (coefficient of variation).
UNSTABLE_CV = 0.10


def time_split(r: RunResult) -> str | None:
    """Mean host submission (the submit call) and in-flight time (device and waiting) per job."""
    done = r.outcome == _core.OUTCOME_COMPLETED
    if not done.any():
        return None
    submit_ms = float(np.mean(r.t_started[done] - r.t_submit[done]) * 1e3)
    flight_ms = float(np.mean(r.t_done[done] - r.t_started[done]) * 1e3)
    if r.t_device_start is not None and r.t_device_end is not None:
        known = done & np.isfinite(r.t_device_start)
        if known.any():
            queued = float(np.mean(np.maximum(r.t_device_start[known] - r.t_submit[known], 0)) * 1e3)
            device = float(np.mean(r.t_device_end[known] - r.t_device_start[known]) * 1e3)
            seen = float(np.mean(np.maximum(r.t_done[known] - r.t_device_end[known], 0)) * 1e3)
            return (
                f"host submission {submit_ms:.3f} ms, submit to device start {queued:.3f} ms, device "
                f"{device:.3f} ms, device end to host collection {seen:.3f} ms (means; device times as "
                "the engine reports them)"
            )
    return (
        f"host submission {submit_ms:.3f} ms, in flight {flight_ms:.3f} ms per job (the engine reports "
        "no device times for these jobs: device time and collection are not told apart)"
    )


def hints(r: RunResult, warmup: int) -> list[str]:
    out = []
    cores = os.cpu_count() or 1
    busy_cores = r.cpu_s / r.wall_s if r.wall_s > 0 and not math.isnan(r.cpu_s) else 0.0
    if busy_cores >= 0.9 * cores and r.max_in_flight < r.jobs and r.mode != "sync":  # sync: one by design
        out.append(
            f"host-bound: the process kept {busy_cores:.2f} of {cores} cores busy and never had "
            f"all {r.jobs} jobs in flight (max {r.max_in_flight}); the device waits for the host"
        )
    cv = _fifths_cv(r)
    if cv is not None and cv > UNSTABLE_CV:
        out.append(f"unstable: the throughput of its fifths varies by {cv:.0%} (try --stable, a longer -t)")
    lat = r.latencies_ms
    if len(lat) >= 50 and r.rate_fps <= 0:
        head, rest = float(np.median(lat[: len(lat) // 10])), float(np.median(lat))
        if rest > 0 and head > 1.5 * rest:
            out.append(
                f"warm-up too short ({warmup} job(s)): the first tenth of the jobs took {head:.3f} ms "
                f"(median), the run {rest:.3f} ms; raise --warmup"
            )
    rate = r.rate_report()
    if rate is not None and r.wall_s > 0 and len(r.t_submit) > 0:
        busy = float(np.nansum(r.t_done - r.t_started)) / (r.wall_s * r.jobs)
        if busy < 0.5 and rate["dropped"] == 0:
            out.append(
                f"starved by the arrival rate: the {r.jobs} slot(s) held a job {busy:.0%} of the time; "
                "the pipeline could take more"
            )
    return out


def _fifths_cv(r: RunResult) -> float | None:
    done = r.t_done[r.outcome == _core.OUTCOME_COMPLETED]
    if len(done) < 100 or r.wall_s <= 0:
        return None
    counts, _ = np.histogram(done, bins=5, range=(0.0, r.wall_s))
    mean = counts.mean()
    return float(counts.std() / mean) if mean > 0 else None
