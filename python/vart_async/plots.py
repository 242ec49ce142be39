"""Pictures of measured runs: a per-slot timeline, a latency histogram, a jobs sweep.

Everything is drawn from the timestamps a run recorded (RunResult), never from a model of the
device. matplotlib is an optional extra (`pip install 'vart-async[plot]'`) imported only when a
picture is drawn; figures are built with matplotlib's object API on the Agg canvas, so drawing
neither needs a display nor changes the pyplot backend of the caller's process.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from vart_async import _core
from vart_async._errors import VartAsyncError
from vart_async.results import PERCENTILES, RunResult, percentile

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["PlotUnavailableError", "latency_histogram", "sweep_plot", "timeline"]

INSTALL_HINT = "pip install 'vart-async[plot]'"
_SUBMIT, _FLIGHT, _COLLECT, _FAILED = "#2ca02c", "#1f77b4", "#d62728", "#7f7f7f"
_DEVICE = "#9467bd"
_PCT_COLORS: dict[float, str] = {50: "#2ca02c", 90: "#ff7f0e", 99: "#d62728"}
_LABEL_BOX = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}


class PlotUnavailableError(VartAsyncError, ImportError):
    """matplotlib is not installed (the message says how to get it)."""


def _figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise PlotUnavailableError(f"plots need matplotlib ({e}): {INSTALL_HINT}") from None
    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)  # a bare Figure picks the Agg canvas for raster formats
    return out


def _time_unit(span_s: float) -> tuple[str, float]:
    """A readable unit for an axis spanning `span_s` seconds: (name, seconds -> unit factor)."""
    if span_s < 2e-3:
        return "µs", 1e6
    if span_s < 2.0:
        return "ms", 1e3
    return "s", 1.0


def _ms_text(ms: float) -> str:
    if not math.isfinite(ms):
        return "n/a"
    if ms < 1.0:
        return f"{ms * 1e3:.1f} µs"
    return f"{ms:.3g} ms" if ms < 100 else f"{ms:.0f} ms"


# -- timeline ---------------------------------------------------------------------------------------
def timeline(
    passes: Sequence[tuple[str, RunResult]],
    path: str | os.PathLike[str],
    *,
    max_jobs: int = 16,
    title: str | None = None,
) -> Path:
    """Draws what the host did with each job slot, one panel per pass (e.g. sync above async).

    Per slot row and per job: a tick when the host called submit, a bar while the job was in
    flight (submit returned -> the host saw it done, so it includes waiting behind older jobs), and
    a mark when the host collected it. The first `max_jobs` jobs of each pass are drawn on a time
    axis shared by all panels (time since the pass started). Returns the written path.
    """
    if not passes:
        raise ValueError("timeline needs at least one (label, RunResult) pass")
    if max_jobs < 1:
        raise ValueError(f"max_jobs must be >= 1 (got {max_jobs})")
    windows = [(label, r, min(max_jobs, len(r.t_submit))) for label, r in passes]
    ends = [
        float(np.nanmax(np.concatenate([r.t_done[:n], r.t_started[:n]]))) for _, r, n in windows if n > 0
    ]
    span = max(ends, default=1e-3)
    unit, scale = _time_unit(span)
    rows = [r.jobs + len(_device_units(r, n)) for _, r, n in windows]
    fig = _figure(11.0, 1.1 + sum(0.55 * k + 0.9 for k in rows))
    axes = fig.subplots(len(windows), 1, sharex=True, squeeze=False,
                        height_ratios=[k + 1.2 for k in rows])[:, 0]
    for ax, (label, r, n) in zip(axes, windows, strict=True):
        _timeline_panel(ax, label, r, n=n, scale=scale, span=span)
    axes[-1].set_xlabel(f"time since the pass started ({unit}) — host steady clock")
    axes[-1].set_xlim(-0.01 * span * scale, span * scale * 1.02)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [
        Line2D([], [], color=_SUBMIT, marker="|", linestyle="none", markersize=14, markeredgewidth=2.2,
               label="host submits the job"),
        Patch(facecolor=_FLIGHT, alpha=0.75, label="job in flight (submit returned → host saw it done)"),
        Line2D([], [], color=_COLLECT, marker="v", linestyle="none", markersize=8,
               label="host collects the job (its wait returned)"),
    ]
    if any(_device_units(r, n) for _, r, n in windows):
        handles.append(Patch(facecolor=_DEVICE, alpha=0.85, label="device runs the job (as the engine says)"))
    if any(np.any(r.outcome[:n] != _core.OUTCOME_COMPLETED) for _, r, n in windows):
        handles.append(Patch(facecolor=_FAILED, hatch="//", label="job failed or cancelled"))
    cols = min(len(handles), 3)
    fig.legend(handles=handles, loc="outside lower center", ncols=cols, frameon=False, fontsize=9)
    head = title or "Measured job timeline"
    which = "of each pass" if len(windows) > 1 else "of the run"
    fig.suptitle(f"{head}\nthe first {max(n for *_, n in windows)} jobs {which}", fontsize=12)
    return _save(fig, path)


def _timeline_panel(ax: Axes, label: str, r: RunResult, *, n: int, scale: float, span: float) -> None:
    lat = r.latency_stats()
    ax.set_title(
        f"{label}: {r.completed} jobs in {r.wall_s:.3g} s → {r.fps:,.0f} FPS, "
        f"latency p50 {_ms_text(lat['p50'])}, up to {r.max_in_flight} in flight",
        fontsize=10, loc="left",
    )
    height = 0.5
    for i in range(n):
        row = int(r.slot[i])
        start, done = r.t_started[i], r.t_done[i]
        ok = r.outcome[i] == _core.OUTCOME_COMPLETED
        end = done if math.isfinite(done) else span
        ax.broken_barh([(start * scale, max(end - start, 0.0) * scale)], (row - height / 2, height),
                       facecolors=_FLIGHT if ok else _FAILED, alpha=0.75, edgecolor="white", linewidth=0.8,
                       hatch=None if ok else "//")
        if (end - start) > 0.035 * span:  # room for the job's number inside its bar
            ax.text((start + end) / 2 * scale, row, f"#{i}", ha="center", va="center", fontsize=7.5,
                    color="white")
    ax.plot(r.t_submit[:n] * scale, r.slot[:n], linestyle="none", marker="|", markersize=20,
            markeredgewidth=2.2, color=_SUBMIT)
    done = np.isfinite(r.t_done[:n])
    ax.plot(r.t_done[:n][done] * scale, r.slot[:n][done] - height / 2 - 0.08, linestyle="none", marker="v",
            markersize=7, color=_COLLECT)
    units = _device_units(r, n)
    starts, ends, unit_of = r.t_device_start, r.t_device_end, r.device_unit
    for u in units:  # the device's own view, where the engine tells: a row per compute unit
        assert starts is not None
        assert ends is not None
        assert unit_of is not None
        y = r.jobs + 0.3 + u
        for i in range(n):
            if int(unit_of[i]) != u or not math.isfinite(starts[i]):
                continue
            s0, s1 = starts[i], ends[i]
            ax.broken_barh([(s0 * scale, max(s1 - s0, 0.0) * scale)], (y - height / 2, height),
                           facecolors=_DEVICE, alpha=0.85, edgecolor="white", linewidth=0.8)
            if (s1 - s0) > 0.035 * span:
                ax.text((s0 + s1) / 2 * scale, y, f"#{i}", ha="center", va="center", fontsize=7.5, c="white")
    ticks = [float(k) for k in range(r.jobs)] + [r.jobs + 0.3 + u for u in units]
    ax.set_yticks(ticks, [f"slot {k}" for k in range(r.jobs)] + [f"device unit {u}" for u in units])
    ax.set_ylim(r.jobs - 0.4 + (len(units) + 0.3 if units else 0), -0.75)  # slot 0 on top
    ax.grid(axis="x", alpha=0.3)


def _device_units(r: RunResult, n: int) -> list[int]:
    """The compute units the engine said ran the first n jobs (none when it does not tell)."""
    if r.device_unit is None or r.t_device_start is None:
        return []
    known = np.isfinite(r.t_device_start[:n]) & (r.device_unit[:n] >= 0)
    return sorted({int(u) for u in r.device_unit[:n][known]})


# -- latency histogram ------------------------------------------------------------------------------
def latency_histogram(
    result: RunResult, path: str | os.PathLike[str], *, title: str | None = None, bins: int = 100
) -> Path:
    """Histogram of the run's job latencies with p50/p90/p99 marked. Returns the written path.

    The count axis is logarithmic so the tail stays visible next to the peak, and the latency axis is
    cut at 1.25 x p99.9 so a few stragglers do not squash the picture (how many lie beyond is written
    on it).
    """
    lat_ms = np.sort(result.latencies_ms)
    if len(lat_ms) == 0:
        raise ValueError("the run completed no job: there is no latency to plot")
    use_us = percentile(lat_ms, 50) < 0.5
    unit, factor = ("µs", 1e3) if use_us else ("ms", 1.0)
    values = lat_ms * factor
    cut = max(percentile(values, 99.9) * 1.25, float(values[0]) * 1.01)
    shown = values[values <= cut]
    fig = _figure(9.0, 5.0)
    ax = fig.subplots()
    ax.hist(shown, bins=bins, color=_FLIGHT, alpha=0.8, edgecolor="white", linewidth=0.4, label="jobs")
    for p in PERCENTILES:
        v = percentile(values, p)
        ax.axvline(v, color=_PCT_COLORS[p], linestyle="--", linewidth=1.8, label=f"p{p:g} = {v:.4g} {unit}")
    beyond = len(values) - len(shown)
    if beyond:
        ax.text(0.99, 0.62, f"{beyond} slower job(s) beyond the axis\n(max {values[-1]:.4g} {unit})",
                transform=ax.transAxes, ha="right", va="top", fontsize=9, color="#555555")
    ax.set_xlabel(f"latency ({unit}): host submit → host saw the job done")
    ax.set_yscale("log")
    ax.set_ylabel("jobs (log scale)")
    ax.legend(loc="upper right", fontsize=9)
    ax.grid(alpha=0.3)
    head = title or "Job latency"
    ax.set_title(f"{head}\n{len(values)} jobs, {result.mode}, {result.jobs} slots, {result.fps:,.0f} FPS",
                 fontsize=11)
    return _save(fig, path)


# -- jobs sweep -------------------------------------------------------------------------------------
def _sweep_point(row: Any) -> tuple[int, float, float]:
    if isinstance(row, RunResult):
        return row.jobs, row.fps, row.latency_stats()["p99"]
    if hasattr(row, "result") and isinstance(row.result, RunResult):  # _report.SweepEntry
        return int(row.jobs), row.result.fps, row.result.latency_stats()["p99"]
    if isinstance(row, Mapping):
        p99 = row.get("p99_ms")
        if p99 is None:
            p99 = (row.get("latency_ms") or {}).get("p99")
        return int(row["jobs"]), float(row["throughput_fps"]), float("nan") if p99 is None else float(p99)
    raise TypeError(f"a sweep row is a RunResult or a mapping with jobs, throughput_fps, p99_ms "
                    f"(got {row!r})")


def sweep_plot(
    rows: Sequence[Mapping[str, Any] | RunResult], path: str | os.PathLike[str], *, title: str | None = None
) -> Path:
    """Throughput (left axis) and p99 latency (right axis) against jobs in flight.

    `rows`: the CLI's sweep rows (mappings with jobs, throughput_fps, p99_ms) or RunResults.
    Returns the written path.
    """
    points = sorted(_sweep_point(r) for r in rows)
    if not points:
        raise ValueError("sweep_plot needs at least one row")
    jobs = np.array([p[0] for p in points])
    fps: npt.NDArray[np.float64] = np.array([p[1] for p in points])
    p99 = np.array([p[2] for p in points])
    fig = _figure(8.5, 5.0)
    ax = fig.subplots()
    ax.plot(jobs, fps, marker="o", color=_FLIGHT, linewidth=2, label="throughput (FPS)")
    ax.set_xlabel("jobs in flight (slots)")
    ax.set_ylabel("throughput (FPS)", color=_FLIGHT)
    ax.tick_params(axis="y", labelcolor=_FLIGHT)
    ax.set_ylim(0, max(float(np.nanmax(fps)), 1e-9) * 1.18)
    if len(jobs) > 2 and jobs.min() > 0 and jobs.max() / jobs.min() >= 8:
        ax.set_xscale("log", base=2)
    ax.set_xticks(jobs, [str(j) for j in jobs])
    ax.minorticks_off()
    right = ax.twinx()  # drawn over `ax`: every value label goes on it so no line crosses a label
    for x, y in zip(jobs, fps, strict=True):
        right.annotate(f"{y:,.0f} FPS", (x, y), xycoords=ax.transData, textcoords="offset points",
                       xytext=(0, 9), ha="center", fontsize=8, color=_FLIGHT, bbox=_LABEL_BOX, zorder=5)
    right.plot(jobs, p99, marker="s", linestyle="--", color=_COLLECT, linewidth=2, label="p99 latency (ms)")
    right.set_ylabel("p99 latency (ms)", color=_COLLECT)
    right.tick_params(axis="y", labelcolor=_COLLECT)
    finite = p99[np.isfinite(p99)]
    right.set_ylim(0, (float(finite.max()) if len(finite) else 1.0) * 1.18)
    for x, y in zip(jobs, p99, strict=True):
        if math.isfinite(y):
            right.annotate(_ms_text(y), (x, y), textcoords="offset points", xytext=(0, -17), ha="center",
                           fontsize=8, color=_COLLECT, bbox=_LABEL_BOX, zorder=5)
    lines = ax.get_lines()[:1] + right.get_lines()[:1]
    ax.legend(lines, [str(line.get_label()) for line in lines], loc="lower right", fontsize=9)
    ax.grid(alpha=0.3)
    ax.set_title(title or "Throughput and p99 latency against jobs in flight", fontsize=11)
    return _save(fig, path)
