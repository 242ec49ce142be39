"""`vart-async-bench`'s measurements beyond one pass: the rate sweep, per-job export, stability
windows and the latency-budget search."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vart_async._report import kv, table
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


# -- --export-jobs -------------------------------------------------------------------------------------
EXPORT_COLUMNS = (
    "pass", "job", "slot", "frame", "status", "arrival_s", "host_submit_s", "submit_returned_s",
    "device_start_s", "device_end_s", "compute_unit", "host_done_s", "latency_ms",
)  # fmt: skip
_STATUS = {0: "completed", 1: "failed", 2: "cancelled"}


def export_jobs(path: str, passes: Sequence[tuple[str, RunResult]], frames: int | None) -> int:
    """One CSV row per measured job whose record is kept (times in seconds since its pass started;
    device times empty where the engine does not report them). Returns the rows written."""
    import csv

    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(EXPORT_COLUMNS)
        for label, r in passes:
            arrival = r.t_arrival if r.t_arrival is not None else r.t_submit
            for i in range(len(r.t_submit)):
                done = r.t_done[i]
                seen = not math.isnan(done)
                status = _STATUS.get(int(r.outcome[i]), "?")
                out.writerow((
                    label, i, int(r.slot[i]), i % frames if frames else "", status,
                    f"{arrival[i]:.9f}", f"{r.t_submit[i]:.9f}", f"{r.t_started[i]:.9f}",
                    *_device(r, i),
                    f"{done:.9f}" if seen else "", f"{(done - arrival[i]) * 1e3:.6f}" if seen else "",
                ))  # fmt: skip
                rows += 1
    return rows


def _device(r: RunResult, i: int) -> tuple[str, str, str]:
    if r.t_device_start is None or r.t_device_end is None or r.device_unit is None:
        return "", "", ""
    start, end, unit = r.t_device_start[i], r.t_device_end[i], int(r.device_unit[i])
    if math.isnan(start):
        return "", "", ""
    return f"{start:.9f}", f"{end:.9f}", str(unit) if unit >= 0 else ""


# -- --stable ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stability:
    """--stable PCT[:WINDOWS:WINDOW_S]: stop once the last WINDOWS windows agree within ±PCT %."""

    pct: float
    windows: int = 3
    window_s: float = 2.0

    def agree(self, values: Sequence[float]) -> bool:
        mean = sum(values) / len(values)
        return mean > 0 and all(abs(v - mean) <= mean * self.pct / 100 for v in values)

    def converged(self, results: Sequence[RunResult]) -> bool:
        if len(results) < self.windows:
            return False
        last = results[-self.windows :]
        return self.agree([r.fps for r in last]) and self.agree([r.latency_stats()["p99"] for r in last])

    def report(self, results: Sequence[RunResult], elapsed_s: float) -> dict[str, Any]:
        done = self.converged(results)
        return {
            "converged": done,
            "pct": self.pct,
            "windows_needed": self.windows,
            "window_s": self.window_s,
            "elapsed_s": elapsed_s,
            "measured_windows": len(results),
            "windows": [
                {"throughput_fps": r.fps, "p99_ms": r.latency_stats()["p99"], "completed": r.completed}
                for r in results
            ],
        }


def stability(text: str) -> Stability:
    """The argparse type of --stable."""
    parts = text.split(":")
    try:
        pct = float(parts[0])
        windows = int(parts[1]) if len(parts) > 1 else 3
        window_s = float(parts[2]) if len(parts) > 2 else 2.0
    except ValueError:
        parts = []
    if (
        len(parts) not in (1, 2, 3)
        or not (math.isfinite(pct) and 0 < pct <= 100)
        or not 2 <= windows <= 100
        or not (math.isfinite(window_s) and 0.05 <= window_s <= 3600)
    ):
        raise argparse.ArgumentTypeError(
            f"must be PCT[:WINDOWS:WINDOW_S], 0 < PCT <= 100, 2 <= WINDOWS <= 100, 0.05 <= WINDOW_S <= 3600 "
            f"(got '{text[:40]}')"
        )
    return Stability(pct, windows, window_s)


def stability_line(doc: dict[str, Any]) -> str:
    windows = f"{doc['measured_windows']} window(s) of {doc['window_s']:g} s"
    if doc["converged"]:
        said = f"converged after {doc['elapsed_s']:.1f} s ({windows}; the last {doc['windows_needed']} "
        return kv("Stability", said + f"within ±{doc['pct']:g} % in throughput and p99)")
    return kv("Stability", f"did NOT converge within {doc['elapsed_s']:.1f} s ({windows}, ±{doc['pct']:g} %)")


# -- --max-latency -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Budget:
    """--max-latency MS[:PCT]: the highest throughput whose PCT percentile stays within MS."""

    ms: float
    percentile: float = 99.0

    @property
    def key(self) -> str:
        return percentile_key(self.percentile)

    def point(self, r: RunResult, rate: float | None, depth: int) -> dict[str, Any]:
        value = r.latency_stats((self.percentile,))[self.key]
        return {
            "rate_jobs_per_s": rate,
            "jobs_in_flight": depth,
            "throughput_fps": r.fps,
            "jobs_per_s": r.jobs_per_s,
            f"{self.key}_ms": value,
            "within": bool(value <= self.ms) and r.ok,
            "completed": r.completed,
        }


def budget(text: str) -> Budget:
    """The argparse type of --max-latency."""
    ms_text, _, pct_text = text.partition(":")
    try:
        ms = float(ms_text)
        pct = float(pct_text) if pct_text else 99.0
    except ValueError:
        ms = pct = float("nan")
    if not (math.isfinite(ms) and ms > 0 and math.isfinite(pct) and 0 < pct <= 100):
        raise argparse.ArgumentTypeError(f"must be MS[:PCT], MS > 0, 0 < PCT <= 100 (got '{text[:40]}')")
    return Budget(ms, pct)


def budget_doc(b: Budget, points: list[dict[str, Any]], *, complete: bool) -> dict[str, Any]:
    """The report of a search (complete=False: stopped early, the points measured so far)."""
    within = [p for p in points if p["within"]]
    best = max(within, key=lambda p: p["throughput_fps"]) if within else None
    return {
        "budget_ms": b.ms,
        "percentile": b.percentile,
        "points": points,
        "best": best,
        "complete": complete,
    }


def search_budget(
    b: Budget, run_at: Any, jobs: int, steps: int = 7, points: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The highest throughput whose percentile stays within the budget: first a bisection over the
    jobs in flight (closed loop, 1 .. jobs), then, if even one job in flight is over the budget, a
    bisection over the arrival rate below its throughput. `run_at(rate or None, depth)` runs one
    window. Latency grows with load on both axes, which is what bisection assumes. `points` (if
    given) collects the points as they are measured, for a caller whose search is interrupted."""
    points = [] if points is None else points

    def measure(rate: float | None, depth: int) -> dict[str, Any]:
        p = b.point(run_at(rate, depth), rate, depth)
        points.append(p)
        return p

    lo, hi = 1, jobs
    best: dict[str, Any] | None = None
    while lo <= hi:  # the deepest pipeline still within the budget
        mid = (lo + hi) // 2
        p = measure(None, mid)
        if p["within"]:
            best = p if best is None or p["throughput_fps"] > best["throughput_fps"] else best
            lo = mid + 1
        else:
            hi = mid - 1
    if best is None:  # one job in flight is already too slow: lower the arrival rate
        low, high = 0.0, max(points[-1]["jobs_per_s"], 1e-3)
        for _ in range(steps):
            rate = (low + high) / 2
            p = measure(rate, jobs)
            if p["within"]:
                low = rate
                best = p if best is None or p["throughput_fps"] > best["throughput_fps"] else best
            else:
                high = rate
    return budget_doc(b, points, complete=True)


def budget_table(doc: dict[str, Any]) -> str:
    key = f"{percentile_key(doc['percentile'])}_ms"
    rows = [
        (
            "closed loop" if p["rate_jobs_per_s"] is None else f"{p['rate_jobs_per_s']:.1f}",
            str(p["jobs_in_flight"]),
            f"{p['throughput_fps']:.1f}",
            f"{p[key]:.3f}",
            "yes" if p["within"] else "no",
        )
        for p in doc["points"]
    ]
    title = f"Latency budget {percentile_key(doc['percentile'])} <= {doc['budget_ms']:g} ms"
    headers = ("rate jobs/s", "in flight", "throughput FPS", key.replace("_", " "), "within")
    table_text = table(title, headers, rows)
    best = doc["best"]
    if best is None:
        return table_text + "\n" + kv("Best", "none within the budget")
    rate = best["rate_jobs_per_s"]
    how = "closed loop" if rate is None else f"{rate:.1f} jobs/s arriving"
    said = f"{best['throughput_fps']:.1f} FPS with {best['jobs_in_flight']} in flight, {how}"
    return table_text + "\n" + kv("Best", f"{said} ({key[:-3]} {best[key]:.3f} ms)")
