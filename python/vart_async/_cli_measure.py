"""`vart-async-bench`'s open-loop figures: the rate sweep's rows and table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vart_async._report import table
from vart_async.results import RunResult, percentile_key


def rate_row(r: RunResult, percentiles: Sequence[float]) -> dict[str, Any]:
    rate = r.rate_report() or {}
    return {
        "target_jobs_per_s": rate.get("target_jobs_per_s"),
        "achieved_jobs_per_s": r.jobs_per_s,
        "throughput_fps": r.fps,
        "latency_ms": r.latency_stats(percentiles),
        "late": rate.get("late"),
        "dropped": rate.get("dropped"),
        "reason": r.reason,
    }


def rate_table(results: Sequence[RunResult], percentiles: Sequence[float]) -> str:
    keys = [percentile_key(p) for p in percentiles]
    rows = []
    for r in results:
        row = rate_row(r, percentiles)
        lat = row["latency_ms"]
        rows.append(
            (
                f"{row['target_jobs_per_s']:g}",
                f"{row['achieved_jobs_per_s']:.1f}",
                *(f"{lat[k]:.3f}" for k in keys),
                str(row["late"]),
                str(row["dropped"]),
            )
        )
    headers = ("rate jobs/s", "achieved", *(f"{k} ms" for k in keys), "late", "dropped")
    return table("Rate sweep", headers, rows)
