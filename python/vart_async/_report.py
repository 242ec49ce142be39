"""What `vart-async-bench` prints and writes: summary, perf table, sweep table, JSON report, progress."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from vart_async import _hints
from vart_async.results import PERCENTILES, RunResult

if TYPE_CHECKING:
    from vart_async.session import Session

SCHEMA = "vart-async-bench/1"
LATENCY_DEFINITION = (
    "host time from submission to the job seen done (FIFO wait returned); nearest-rank percentiles; "
    "warm-up excluded"
)


def latency_definition(passes: Mapping[str, RunResult]) -> str:
    """How latency was measured: FIFO waits, or (replay with completion reports: OpenVINO, VART with
    completion="callback") jobs collected as they finished; from each job's arrival in an open loop."""
    if any(r.rate_fps > 0 for r in passes.values()):
        return (
            "open loop: host time from each job's scheduled arrival (not its submission: a backlog "
            "counts) to the job seen done; nearest-rank percentiles; warm-up excluded"
        )
    if not any(r.collected == "completion" for r in passes.values()):
        return LATENCY_DEFINITION
    return (
        "host time from submission to the job seen done (async: collected as each job finished: the "
        "runtime's completion report, then its wait returned); nearest-rank percentiles; warm-up excluded"
    )
_LABEL = 19  # "Mode               : " - the sample's key column


def kv(key: str, value: str) -> str:
    """A `Key               : value` line in the sample's column layout."""
    return f"{key:<{_LABEL}}: {value}"


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The sample's table: +-…-+ separators, a centred title row, left-justified cells."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    sep = "+-" + "-+-".join("-" * w for w in widths) + "-+"
    inner = sum(widths) + 3 * (len(widths) - 1)
    left = max(0, (inner - len(title)) // 2)
    title_row = "| " + " " * left + title + " " * max(0, inner - len(title) - left) + " |"

    def row(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([sep, title_row, sep, row(headers), sep, *(row(r) for r in rows), sep])


def perf_table(passes: Mapping[str, RunResult]) -> str:
    """The sample's "Performance" table. One inference = one job of `batch` frames (dp_size)."""
    rows = []
    for label, r in passes.items():
        total_ms = r.wall_s * 1e3
        per_job = total_ms / r.completed if r.completed else 0.0
        rows.append(
            (
                f"{label.capitalize()} infer pass",
                f"{per_job:.2f} ms/inference (dp_size={r.batch_size})",
                f"{r.fps:.2f} FPS",
            )
        )
    return table("Performance", ("Pass", "Average Inference Time", "Average Throughput"), rows)


def pass_line(label: str, r: RunResult) -> str:
    """`[INFO] async infer pass: X ms (Y ms/frame) [N frames]`, 3 decimals, as the sample logs it."""
    total_ms = r.wall_s * 1e3
    per_frame = f" ({total_ms / r.frames:.3f} ms/frame)" if r.frames else ""
    return f"[INFO] {label} infer pass: {total_ms:.3f} ms{per_frame} [{r.frames} frames]"


@dataclass
class RunInfo:
    """What was run, for the summary and the report."""

    engine: str
    runtime: str
    emulated: bool
    model: str
    model_name: str
    jobs: int
    batch_size: int
    warmup: int
    iterations: int | None
    time_limit_s: float | None
    input: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)  # the engine's runtime settings
    percentiles: tuple[float, ...] = PERCENTILES
    #: Summary lines of the compiled configuration, and of the cold start (set by the CLI).
    configuration: list[str] = field(default_factory=list)
    cold_start: str = ""
    #: What the speed-up compares, when the sync pass ran on a model compiled for it.
    sync_basis: str = ""
    #: Output rows one job writes (0: as many as batch_size, its input rows).
    output_batch_size: int = 0

    def __post_init__(self) -> None:
        if self.output_batch_size <= 0:
            self.output_batch_size = self.batch_size

    @classmethod
    def of(
        cls,
        session: Session,
        warmup: int,
        iterations: int | None,
        time_limit_s: float | None,
        source: dict[str, Any],
    ) -> RunInfo:
        return cls(
            session.engine,
            session.runtime,
            session.emulated,
            session.model,
            session.model_name,
            session.jobs,
            session.batch_size,
            warmup,
            iterations,
            time_limit_s,
            source,
            {str(k): str(v) for k, v in session.info.get("properties", {}).items()},
            output_batch_size=session.output_batch_size,
        )


def output_dump(r: RunResult, dry_run: bool) -> list[str]:
    """The sample's closing block (not in benchmark mode)."""
    return [
        "---- output dump ----",
        "No OFM files are written in dry-run mode."
        if dry_run
        else "Only last iteration OFM is written (see messages above).",
        f"Batches completed: {r.completed} / {r.submitted}",
    ]


def verify_ok(tensors: int, slots: int) -> str:
    return kv("Verify", f"async and sync outputs are bit-identical ({tensors} tensors x {slots} slots)")


def verify_mismatch(name: str, slot: int, offset: int) -> str:
    return (
        f"--verify: output '{name}' differs between async and sync (slot {slot}, first differing byte "
        f"at offset {offset})"
    )


def engine_text(info: Session | RunInfo) -> str:
    """`vart — <runtime> — EMULATED — no NPU`: the engine, its runtime, whether it is emulated."""
    return f"{info.engine} — {info.runtime}" + (" — EMULATED — no NPU" if info.emulated else "")


def _ms(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.3f}"


def pass_summary(label: str, r: RunResult, percentiles: Sequence[float] = PERCENTILES) -> list[str]:
    lat = r.latency_stats(percentiles)
    stats = " | ".join(f"{k} {_ms(v)}" for k, v in lat.items())
    return [
        kv(
            f"{label} pass",
            f"{r.completed} / {r.submitted} jobs completed, {r.failed} failed, "
            f"{r.cancelled} cancelled, in {r.wall_s * 1e3:.3f} ms"
            + ("" if r.ok else f" (stopped: {r.reason})"),
        ),
        kv(
            "  Throughput", f"{r.fps:.2f} FPS ({r.frames} frames = {r.completed} jobs x batch {r.batch_size})"
        ),
        kv("  Latency (ms)", stats),
        kv("  In flight", f"max {r.max_in_flight} of {r.jobs} slot(s); busy retries {r.busy_retries}"),
        kv("  Copied", copied_text(r.bytes_copied_in, r.bytes_copied_out)),
        *_cpu_line(r),
        *rate_lines(r),
    ]


def copied_text(inputs: int, outputs: int) -> str:
    """What a run copied between the caller's memory and the slots' buffers."""
    if inputs == 0 and outputs == 0:
        return "nothing (the jobs ran on the slots' own buffers)"
    return f"{_size(inputs)} into the slots' inputs, {_size(outputs)} out of their outputs"


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def rate_lines(r: RunResult) -> list[str]:
    """An open-loop pass's line: target and achieved rate, late and dropped jobs."""
    rate = r.rate_report()
    if rate is None:
        return []
    late = f"{rate['late']} started >= 1 ms late (max {rate['late_max_ms']:.2f} ms)"
    return [
        kv(
            "  Arrivals",
            f"{rate['arrival']}, {rate['target_jobs_per_s']:g} jobs/s asked, "
            f"{rate['achieved_jobs_per_s']:.1f} achieved; {late}; {rate['dropped']} dropped; "
            "latency from each job's arrival",
        )
    ]


def _cpu_line(r: RunResult) -> list[str]:
    if math.isnan(r.cpu_s) or r.wall_s <= 0:
        return []
    cores = r.cpu_s / r.wall_s
    return [kv("  Process CPU", f"{cores:.2f} core(s) busy on average (every thread: runtime and host loop)")]


def speedup(passes: Mapping[str, RunResult]) -> float | None:
    a, s = passes.get("async"), passes.get("sync")
    if a is None or s is None or s.fps <= 0:
        return None
    return a.fps / s.fps


def speedup_basis(info: RunInfo) -> str:
    """What the speed-up compares."""
    return info.sync_basis or "async throughput / sync throughput, same compiled model"
def _compiled(info: RunInfo) -> bool:
    return "PERFORMANCE_HINT" in info.properties


def settings_text(info: RunInfo) -> str:
    """The engine's runtime settings (tensor types, completion, ...), as `key=value, ...`."""
    return ", ".join(f"{k}={v}" for k, v in info.properties.items())


def batch_text(info: RunInfo) -> str:
    """The batch as the summary shows it: `4`, or `4 input rows -> 1 output row(s); FPS counts input rows`."""
    if info.output_batch_size == info.batch_size:
        return str(info.batch_size)
    return (
        f"{info.batch_size} input rows -> {info.output_batch_size} output row(s) per job; "
        "frames and FPS count input rows"
    )


def summary(info: RunInfo, passes: Mapping[str, RunResult], *, partial: bool = False) -> str:
    limits = [f"{info.iterations} job(s)"] if info.iterations is not None else []
    limits += [f"{info.time_limit_s:g} s"] if info.time_limit_s is not None else []
    run = ("at least " if len(limits) == 2 else "") + " and ".join(limits)
    lines = [
        "---- Summary" + (" (partial)" if partial else "") + " ----",
        kv("Engine", engine_text(info)),
        # (OpenVINO's many compiled properties: the `Compiled` block below and the JSON instead)
        *([kv("Runtime settings", settings_text(info))] if info.properties and not _compiled(info) else []),
        kv("Model", f"{info.model_name} ({info.model})"),
        kv("Jobs in flight", f"{info.jobs} (batch {batch_text(info)}; run: {run})"),
        kv("Warm-up", f"{info.warmup} job(s) per pass, excluded from the statistics"),
        *info.configuration,
        *([info.cold_start] if info.cold_start else []),
    ]
    for label, r in passes.items():
        lines += pass_summary(label.capitalize(), r, info.percentiles)
        split = _hints.time_split(r)
        if split:
            lines.append(kv("  Time per job", split))
        lines += [kv("  Hint", h) for h in _hints.hints(r, info.warmup)]
    up = speedup(passes)
    if up is not None:
        lines.append(kv("Speed-up", f"{up:.2f}x ({speedup_basis(info)})"))
    lines.append(kv("Latency", latency_definition(passes)))
    return "\n".join(lines)


@dataclass(frozen=True)
class SweepEntry:
    jobs: int
    result: RunResult


def sweep_rows(entries: Sequence[SweepEntry]) -> list[dict[str, Any]]:
    """Per jobs count: throughput, p99 latency, speed-up over jobs=1 (or the first entry)."""
    base = next((e for e in entries if e.jobs == 1), entries[0] if entries else None)
    rows = []
    for e in entries:
        up = e.result.fps / base.result.fps if base is not None and base.result.fps > 0 else None
        rows.append(
            {
                "jobs": e.jobs,
                "throughput_fps": e.result.fps,
                "p99_ms": e.result.latency_stats()["p99"],
                "speedup": up,
                "baseline_jobs": base.jobs if base is not None else None,
                "completed": e.result.completed,
                "latency_ms": e.result.latency_stats(),
                "reason": e.result.reason,
            }
        )
    return rows


def sweep_table(entries: Sequence[SweepEntry]) -> str:
    rows = sweep_rows(entries)
    base = rows[0]["baseline_jobs"] if rows else 1
    cells = [
        (
            str(r["jobs"]),
            f"{r['throughput_fps']:.2f}",
            _ms(r["p99_ms"]),
            "n/a" if r["speedup"] is None else f"{r['speedup']:.2f}x",
        )
        for r in rows
    ]
    return table(
        "Jobs sweep", ("jobs", "throughput FPS", "p99 latency ms", f"speed-up vs jobs={base}"), cells
    )


def _result_dict(r: RunResult, percentiles: Sequence[float] = PERCENTILES) -> dict[str, Any]:
    d = r.to_dict(percentiles)
    d["frames"] = r.frames
    return d


def report(
    info: RunInfo,
    passes: Mapping[str, RunResult],
    *,
    status: str = "ok",
    error: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The --json report: the async pass's numbers at the top level, the sync pass under "sync"."""
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "status": status,
        "error": error or None,
        "engine": info.engine,
        "runtime": info.runtime,
        "emulated": info.emulated,
        "model": info.model,
        "model_name": info.model_name,
        "jobs": info.jobs,
        "batch_size": info.batch_size,
        "output_batch_size": info.output_batch_size,
        "warmup": info.warmup,
        "iterations": info.iterations,
        "time_limit_s": info.time_limit_s,
        "input": info.input,
        "percentiles": list(info.percentiles),
        "properties": info.properties,
        "latency_definition": latency_definition(passes),
    }
    doc["hints"] = {label: _hints.hints(r, info.warmup) for label, r in passes.items()}
    if "async" in passes:
        main = _result_dict(passes["async"], info.percentiles)
        del main["jobs"], main["batch_size"]  # the session's, already above
        doc.update(main)
    if "sync" in passes:
        doc["sync"] = _result_dict(passes["sync"], info.percentiles)
        doc["speedup"] = speedup(passes)
        doc["speedup_basis"] = speedup_basis(info)
    doc.update(extra or {})
    return doc


def _finite(obj: Any) -> Any:
    """NaN/inf (e.g. latency of a run that completed nothing) become null: JSON has no NaN."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(_finite(dict(doc)), indent=2, allow_nan=False) + "\n"


def write_json(path: str, doc: Mapping[str, Any]) -> None:
    """Writes the report to `path`, or to stdout for "-". Raises OSError."""
    text = dumps(doc)
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        Path(path).write_text(text)


class Progress:
    """A `\\r`-updated line (jobs done, fps) for a terminal; shown only once a pass runs > `delay` s."""

    def __init__(
        self,
        stream: TextIO,
        *,
        batch_size: int,
        total: int | None,
        time_limit: float | None,
        delay: float = 1.0,
    ) -> None:
        self._stream = stream
        self._batch = batch_size
        self._total = total
        self._time_limit = time_limit
        self._delay = delay
        self._start = time.monotonic()
        self._first: tuple[float, int] | None = None
        self._width = 0

    def update(self, submitted: int, completed: int) -> None:
        now = time.monotonic()
        if self._first is None:
            self._first = (now, completed)
        elapsed = now - self._start
        if elapsed < self._delay:
            return
        t0, c0 = self._first
        fps = (completed - c0) * self._batch / (now - t0) if now > t0 else 0.0
        done = f"{completed} / {self._total}" if self._total and not self._time_limit else f"{completed}"
        clock = f"{elapsed:.1f} / {self._time_limit:g} s" if self._time_limit else f"{elapsed:.1f} s"
        text = f"[progress] {done} jobs done, {submitted - completed} in flight | {fps:.1f} FPS | {clock}"
        self._width = max(self._width, len(text))
        self._stream.write("\r" + text.ljust(self._width))
        self._stream.flush()

    def clear(self) -> None:
        """Erases the line (if one was drawn) so the next output starts on a clean line."""
        if self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0


def pictures(args: Any, info: RunInfo, passes: Mapping[str, RunResult], sweep: Sequence[Any]) -> list[str]:
    """Draws the pictures asked for (--timeline, --plot-latency, --plot); returns the lines to print."""
    from vart_async import plots

    lines: list[str] = []
    title = f"{info.model_name} on {info.engine}{' (emulated)' if info.emulated else ''}, jobs={info.jobs}"
    ordered = [(f"{name} pass", passes[name]) for name in ("sync", "async") if name in passes]
    if args.timeline and ordered:
        lines.append(f"Wrote {plots.timeline(ordered, args.timeline, title=title)} (timeline)")
    if args.plot_latency and "async" in passes:
        path = plots.latency_histogram(
            passes["async"], args.plot_latency, title=f"Async job latency: {title}"
        )
        lines.append(f"Wrote {path} (latency histogram)")
    if args.plot and sweep:
        lines.append(f"Wrote {plots.sweep_plot(sweep, args.plot, title=info.model_name)} (jobs sweep)")
    return lines
