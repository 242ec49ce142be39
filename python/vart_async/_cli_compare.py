"""`vart-async-bench compare A.json B.json [--fail-if "throughput<-5%"] ...`: two reports side by side
(throughput, latency percentiles, what differs in their configuration), and an exit status of 1 when
a --fail-if rule is broken: a regression gate for CI on the board.

A rule is METRIC, < or >, and a signed percentage: the change from A to B, (B - A) / A. Metrics:
`throughput` (throughput_fps), `p50`, `p99.9`, ... (latency_ms), `mean`, `min`, `max`.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vart_async._config import read_json
from vart_async._report import table

MAX_REPORT_BYTES = 64 << 20
_RULE = re.compile(r"^\s*([A-Za-z][\w.]*)\s*([<>])\s*([+-]?\d+(?:\.\d+)?)\s*%\s*$")
#: Configuration keys whose differences are shown.
_SAME = ("engine", "runtime", "emulated", "model", "model_name", "jobs", "batch_size", "warmup", "input")


@dataclass(frozen=True)
class Rule:
    metric: str
    op: str
    pct: float

    def broken(self, change_pct: float) -> bool:
        return change_pct < self.pct if self.op == "<" else change_pct > self.pct

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.pct:+g}%"


def rule(text: str) -> Rule:
    m = _RULE.match(text)
    if m is None:
        raise argparse.ArgumentTypeError(
            f"must be METRIC<PCT% or METRIC>PCT%, e.g. 'throughput<-5%' or 'p99>+10%' (got '{text[:40]}')"
        )
    return Rule(m.group(1), m.group(2), float(m.group(3)))


def load(path: str) -> dict[str, Any]:
    doc = read_json(path, MAX_REPORT_BYTES, "a JSON report")
    if not isinstance(doc, dict) or not str(doc.get("schema", "")).startswith("vart-async-bench/"):
        raise ValueError(f"{path} is not a vart-async-bench JSON report (no 'schema')")
    return doc


def metrics(doc: Mapping[str, Any]) -> dict[str, float]:
    """throughput and the latency statistics of a report's main pass (the async one, else sync)."""
    main = doc if "throughput_fps" in doc else doc.get("sync", {})
    out: dict[str, float] = {}
    if isinstance(main.get("throughput_fps"), int | float):
        out["throughput"] = float(main["throughput_fps"])
    for key, value in (main.get("latency_ms") or {}).items():
        if isinstance(value, int | float):
            out[str(key)] = float(value)
    return out


def change_pct(a: float, b: float) -> float:
    if a == 0:
        return 0.0 if b == 0 else math.inf
    return (b - a) / abs(a) * 100


def differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """What differs between the two runs' configurations (top-level keys and compiled properties)."""
    out = []
    for key in _SAME:
        if a.get(key) != b.get(key):
            out.append((key, _short(a.get(key)), _short(b.get(key))))
    pa = (a.get("configuration") or {}).get("properties") or {}
    pb = (b.get("configuration") or {}).get("properties") or {}
    for key in sorted(set(pa) | set(pb)):
        if pa.get(key) != pb.get(key):
            out.append((key, _short(pa.get(key)), _short(pb.get(key))))
    return out


def _short(v: Any) -> str:
    text = "-" if v is None else json.dumps(v) if isinstance(v, dict | list) else str(v)
    return text if len(text) <= 60 else text[:57] + "..."


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="vart-async-bench compare", description=__doc__.split("\n\n")[0])
    p.add_argument("a", metavar="A.json")
    p.add_argument("b", metavar="B.json")
    p.add_argument("--fail-if", type=rule, action="append", default=[], metavar="RULE",
                   help="e.g. 'throughput<-5%%' or 'p99>+10%%' (repeatable): exit 1 when broken")  # fmt: skip
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 1
    try:
        a, b = load(args.a), load(args.b)
    except ValueError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    ma, mb = metrics(a), metrics(b)
    rows = [(k, f"{ma[k]:.3f}", f"{mb[k]:.3f}", f"{change_pct(ma[k], mb[k]):+.1f}%") for k in ma if k in mb]
    print(table("Compare", ("metric", "A", "B", "change"), rows))
    diff = differences(a, b)
    if diff:
        print(table("Configuration differences", ("key", "A", "B"), diff))
    broken = []
    for r in args.fail_if:
        if r.metric not in ma or r.metric not in mb:
            print(f"Error: --fail-if {r}: no metric {r.metric!r} in both reports (have: {', '.join(ma)})",
                  file=sys.stderr)  # fmt: skip
            return 1
        change = change_pct(ma[r.metric], mb[r.metric])
        if r.broken(change):
            broken.append(f"{r} (changed {change:+.1f}%)")
    for line in broken:
        print(f"FAIL: {line}", file=sys.stderr)
    return 1 if broken else 0
