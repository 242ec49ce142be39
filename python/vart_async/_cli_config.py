"""`vart-async-bench`'s runtime configuration: --property / --load-config / --dump-config, the fair sync
baseline, and what the summary and the report say of the compiled configuration and the cold start."""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from typing import Any

from vart_async import _config, _registry
from vart_async._report import kv
from vart_async.results import RunResult
from vart_async.session import Session


def properties(a: argparse.Namespace, given: Mapping[str, Any]) -> dict[str, str]:
    """Raw properties: --load-config's for the device, then each --property (later ones win).
    Raises ValueError with the message to print."""
    out: dict[str, str] = {}
    if a.load_config:
        out.update(_config.load_config(a.load_config, str(given.get("device", "CPU"))))
    for text in a.property:
        key, value = _config.parse_property(text)
        out[key] = value
    return out


def sync_options(engine: str, options: Mapping[str, Any], raw: Mapping[str, str]) -> dict[str, Any] | None:
    """The options of a fair sync baseline (a model compiled the way a sync user would), or None
    when the caller fixed the compile configuration (a tuning option or any raw property) or the
    engine has no such notion."""
    record = _registry.get(engine)
    if not record.sync_options or raw or any(key in options for key in record.tuning):
        return None
    return {**options, **record.sync_options}


def compiled(session: Session) -> dict[str, Any]:
    """The report's view of one session's configuration: as given, as asked of the runtime, as compiled."""
    info = session.info
    return {
        "options_given": {k: str(v) for k, v in session.options.items()},
        "requested": dict(info.get("requested", {})),
        "properties": dict(info.get("properties", {})),
        "jobs": session.jobs,
        "jobs_from": session.jobs_from,
    }


def summary_lines(session: Session, label: str = "") -> list[str]:
    """The compiled-configuration block: hint, streams, threads, precision, optimal requests, cache dir."""
    info = dict(session.info)
    requested = info.get("requested", {})
    props = dict(info.get("properties", {}))
    if "CACHE_DIR" in requested and not props.get("CACHE_DIR"):
        props["CACHE_DIR"] = requested["CACHE_DIR"]
    info["properties"] = props
    lines = _config.summary_lines(info, kv)
    if label and lines:
        lines[0] = kv(f"Compiled ({label})", lines[0].split(": ", 1)[1])
    if session.jobs_from != "given":
        lines.append(kv("Jobs", f"{session.jobs} ({session.jobs_from})"))
    return lines


def cold_start(session: Session, first: RunResult | None) -> dict[str, Any]:
    """Model read and compile time (as the engine tells them), the whole load, the first job's latency."""
    out: dict[str, Any] = {"load_s": session.load_s, **session.info.get("cold_start", {})}
    ms = float("nan") if first is None else first.first_job_ms
    out["first_inference_ms"] = None if math.isnan(ms) else ms
    return out


def cold_start_line(cold: Mapping[str, Any]) -> str:
    parts = []
    if "read_model_s" in cold:
        parts.append(f"read {cold['read_model_s'] * 1e3:.1f} ms")
    if "compile_s" in cold:
        parts.append(f"compile {cold['compile_s'] * 1e3:.1f} ms")
    parts.append(f"load {cold['load_s'] * 1e3:.1f} ms in all")
    first = cold.get("first_inference_ms")
    parts.append("first inference n/a" if first is None else f"first inference {first:.3f} ms")
    return kv("Cold start", ", ".join(parts) + " (not in the steady-state figures)")


def speedup_basis(async_session: Session, sync_session: Session) -> str:
    """`async (THROUGHPUT, 2 jobs) / sync (LATENCY, its own compile)`: what the speed-up compares."""

    def hint(s: Session) -> str:
        return str(s.info.get("properties", {}).get("PERFORMANCE_HINT", "?"))

    return (
        f"async throughput ({hint(async_session)}, {async_session.jobs} jobs) / sync throughput "
        f"({hint(sync_session)}, compiled for it as a sync user would)"
    )
