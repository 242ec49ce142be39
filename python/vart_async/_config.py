"""Runtime configuration: raw properties, jobs="auto", what the runtime compiled, and benchmark_app's
config files (`-load_config` / `-dump_config`: a JSON object of device -> {property: value}).

The engine reports two sets (see `core::EngineInfo`): `requested`, what it asked the runtime for in
the runtime's own keys, and `properties`, what the compiled model reports. Both go into reports;
the summary shows the few that decide performance and says when the runtime gave less than asked.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: The compiled-model properties the summary shows, and their labels.
SHOWN = (
    ("PERFORMANCE_HINT", "hint"),
    ("NUM_STREAMS", "streams"),
    ("INFERENCE_NUM_THREADS", "threads"),
    ("INFERENCE_PRECISION_HINT", "precision"),
    ("OPTIMAL_NUMBER_OF_INFER_REQUESTS", "optimal requests"),
    ("ENABLE_CPU_PINNING", "pinning"),
    ("CACHE_DIR", "cache dir"),
)
#: Numeric properties where the runtime may give less than asked.
_CAPPED = ("NUM_STREAMS", "INFERENCE_NUM_THREADS")
#: Jobs when jobs="auto" and the engine names no optimum.
DEFAULT_JOBS = 2
MAX_CONFIG_BYTES = 1 << 20


def check_properties(properties: Mapping[str, Any] | None) -> dict[str, str]:
    """Raw runtime properties (e.g. {"NUM_STREAMS": 4, "ENABLE_CPU_PINNING": False}) as the
    engine's upper-case option keys with text values; ValueError for anything else."""
    if properties is None:
        return {}
    if not isinstance(properties, Mapping):
        raise ValueError(
            f"properties must be a mapping of property names to values (got {type(properties).__name__})"
        )
    out: dict[str, str] = {}
    for key, value in properties.items():
        if not isinstance(key, str) or not key or key != key.upper() or not key.replace("_", "").isalnum():
            raise ValueError(f"property names are upper-case words as OpenVINO spells them (got {key!r})")
        out[key] = property_text(key, value)
    return out


def property_text(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "YES" if value else "NO"
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"property {key}: {value} is not a usable value")
    if not isinstance(value, str | int | float):
        raise ValueError(f"property {key}: give a string or a number (got {type(value).__name__})")
    text = str(value)
    if not text.strip() or len(text) > 4096 or "\x00" in text:
        raise ValueError(f"property {key}: empty, too long or not text")
    return text


def parse_property(text: str) -> tuple[str, str]:
    """`KEY=VALUE` (the CLI's --property) -> (KEY, VALUE); ValueError saying what is wrong."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"--property needs KEY=VALUE (got {text!r})")
    checked = check_properties({key: value.strip()})
    return key, checked[key]


def auto_jobs(info: Mapping[str, Any]) -> tuple[int, str]:
    """Jobs for jobs="auto": the compiled model's OPTIMAL_NUMBER_OF_INFER_REQUESTS, else the default."""
    value = info.get("properties", {}).get("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
    try:
        n = int(str(value))
    except ValueError:
        n = 0
    if 1 <= n <= 4096:
        return n, f"auto: OPTIMAL_NUMBER_OF_INFER_REQUESTS = {n}"
    return DEFAULT_JOBS, f"auto: the engine names no optimal number of requests; {DEFAULT_JOBS} (the default)"


def shortfalls(requested: Mapping[str, str], compiled: Mapping[str, str]) -> list[str]:
    """What the runtime gave below what was asked (streams, threads), as summary notes."""
    notes = []
    for key in _CAPPED:
        asked, got = requested.get(key), compiled.get(key)
        if asked is None or got is None:
            continue
        try:
            if int(got) < int(asked):
                notes.append(f"{key} {asked} asked, {got} given by the runtime")
        except ValueError:
            continue  # AUTO / NUMA: nothing to compare
    return notes


def summary_lines(info: Mapping[str, Any], kv: Any) -> list[str]:
    """The summary's compiled-configuration lines (nothing for engines that report none)."""
    compiled: Mapping[str, str] = info.get("properties", {})
    shown = [(label, compiled[key]) for key, label in SHOWN if compiled.get(key) not in (None, "")]
    if not shown or "PERFORMANCE_HINT" not in compiled:
        return []
    lines = [kv("Compiled", ", ".join(f"{label} {value}" for label, value in shown))]
    for note in shortfalls(info.get("requested", {}), compiled):
        lines.append(kv("  Note", note))
    return lines


# -- benchmark_app's config files ------------------------------------------------------------------------
def read_json(path: str, limit: int, what: str) -> Any:
    """A JSON file a user names (a config, a report): a regular file of at most `limit` bytes;
    ValueError `<path> is not <what>: ...` otherwise."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"not a regular file: {path}")
    if p.stat().st_size > limit:
        raise ValueError(f"{path} is larger than {limit >> 20} MiB")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"{path} is not {what}: {e}") from None


def load_config(path: str, device: str) -> dict[str, str]:
    """The properties for `device` in a benchmark_app config file; ValueError saying what is wrong."""
    try:
        doc = read_json(path, MAX_CONFIG_BYTES, "a JSON file")
    except ValueError as e:
        raise ValueError(f"--load-config: {e}") from None
    if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
        raise ValueError(f"--load-config: {path} must hold an object of device -> {{property: value}}")
    if device not in doc:
        has = ", ".join(doc) or "none"
        raise ValueError(f"--load-config: {path} has no entry for device {device} (it has {has})")
    try:
        return check_properties(doc[device])
    except ValueError as e:
        raise ValueError(f"--load-config: {path}: {e}") from None


def dump_config(path: str, device: str, requested: Mapping[str, str]) -> None:
    """Writes what was asked of the runtime, in benchmark_app's format (OSError if it cannot)."""
    Path(path).write_text(json.dumps({device: dict(requested)}, indent=2) + "\n", encoding="utf-8")
