"""`vart-async-bench --fleet [ADDRESS] [--boards N]`: the benchmark on every board of a Ray fleet.

The driver parses and checks the arguments as the tool always does, then every board runs the same
benchmark with the CLI's own code (cli.Bench, on the board actor) and returns the CLI's JSON report;
the driver prints one row per board and the total, and writes {"boards": [...]} as the report.
Ray is imported only here and in vart_async.fleet, and only when --fleet is given.
"""

from __future__ import annotations

import argparse
import copy
import io
import math
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vart_async import _cli_checks, _registry, _report
from vart_async._cli_checks import integer

if TYPE_CHECKING:
    from vart_async.cli import Bench, Failure

SCHEMA = "vart-async-bench-fleet/1"
# The flags of vart_async.fleet.run()'s options (the engines' options come from the registry).
_FLAGS = {
    "iterations": "--num-iteration",
    "time_limit": "--time",
    "jobs": "--jobs",
    "warmup": "--warmup",
    "wait_timeout": "--wait-timeout",
    "spin_us": "--spin-us",
    "engine": "--engine",
    "input_binary": "--input-binary",
}
_SWITCHES = {"benchmark": "--benchmark", "verify": "--verify"}
# What a fleet cannot do: files written on the driver from the boards' timestamps, and sweeps.
_LOCAL_ONLY = ("timeline", "plot_latency", "plot", "sweep_jobs")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("fleet of boards (Ray: pip install 'vart-async[fleet]'; docs/fleet.md)")
    g.add_argument(
        "--fleet", nargs="?", const="", metavar="ADDRESS",
        help="run on every board of a Ray cluster (ADDRESS of its head; default: the running one)",
    )  # fmt: skip
    g.add_argument("--boards", type=integer, metavar="N", help="with --fleet: N boards (default: all)")


def board_args(a: argparse.Namespace) -> argparse.Namespace:
    """The arguments a board runs with: the same benchmark, no fleet, no report file, no live line;
    the model and IFM paths absolute (they must be valid on every board)."""
    b = copy.copy(a)
    pos = [p for p in (a.model_pos, a.ifm_pos) if p is not None]
    model = a.model_path if a.model_path is not None else (pos.pop(0) if pos else None)
    ifm = a.input_binary if a.input_binary is not None else (pos.pop(0) if pos else None)
    b.model_pos = b.ifm_pos = None
    b.model_path = None if model is None else os.path.abspath(model)
    b.input_binary = None if ifm is None else os.path.abspath(ifm)
    b.fleet = b.boards = b.json = None
    b.quiet = True
    return b


def namespace(model: str | os.PathLike[str] | None, options: Mapping[str, Any]) -> argparse.Namespace:
    """The CLI's arguments for fleet.run(model, **options); ValueError for a bad option."""
    from vart_async import _cli_parser  # it imports this module: only at call time

    argv = [] if model is None else ["--model-path", os.fspath(model)]
    for key, value in options.items():
        if key in _SWITCHES:
            argv += [_SWITCHES[key]] if value else []
            continue
        if key in _FLAGS:
            flag = _FLAGS[key]
        else:
            try:
                flag = _registry.option_owner(key)[1].flag
            except KeyError:
                known = ", ".join([*_FLAGS, *_SWITCHES])
                raise ValueError(f"unknown option {key!r} (options: {known}, and the engines')") from None
        if value is not None:
            argv += [flag, str(value)]
    if "input_binary" not in options:
        argv.append("--dry-run")
    parser = _cli_parser.build_parser()

    def error(message: str) -> None:
        raise ValueError(message)

    parser.error = error  # type: ignore[method-assign,assignment]  # ValueError, not exit(1)
    args = board_args(parser.parse_intermixed_args(argv))
    problem = _cli_checks.check_numbers(args)
    if problem is not None:
        raise ValueError(problem)
    return args


def board_report(args: argparse.Namespace) -> dict[str, Any]:
    """Runs the benchmark here (on a board) with the CLI's code; its JSON report, or for a run that
    could not start (no such model on this board, ...) {"status": "error", "error": ...}."""
    from vart_async import cli

    bench = cli.Bench(args, io.StringIO())
    try:
        bench.run()
    except cli.Failure as f:
        message = " ".join(f.lines).removeprefix("Error: ")
        return {"schema": _report.SCHEMA, "status": "error", "error": message}
    return bench.report()


def run(bench: Bench, failure: type[Failure]) -> int:
    """The --fleet invocation; returns the exit status (0: every board ok, 1 otherwise). Errors
    raise `failure` (cli.Failure, passed in: under `python -m vart_async.cli` that is __main__'s)."""
    from vart_async import fleet

    a = bench.a
    if a.fleet is None:
        raise failure("Error: --boards goes with --fleet")
    for key in _LOCAL_ONLY:
        if getattr(a, key):
            raise failure(f"Error: --{key.replace('_', '-')} is not available with --fleet")
    bench._paths()  # the usual errors first (too many positionals, bad numbers)
    bench._check_numbers()
    args = board_args(a)
    address = a.fleet or None
    bench.say(_report.kv("Fleet", f"Ray at {address or 'the running instance (auto)'}"))
    try:
        with fleet.Fleet(None, a.boards, address) as boards:
            bench.say(_report.kv("Boards", ", ".join(fleet.describe(b) for b in boards.boards)))
            reports = boards.bench(args)
    except (fleet.FleetError, ValueError) as e:
        raise failure(f"Error: {e}") from None
    bench.say(table(reports))
    failed = [r for r in reports if r.get("status") != "ok"]
    for r in failed:
        print(f"Error: {fleet.describe(r['board'])}: {r.get('status')}: {r.get('error')}", file=sys.stderr)
    if a.json:
        doc = {
            "schema": SCHEMA,
            "status": "ok" if not failed else "error",
            "address": address,
            "throughput_fps": total_fps(reports),
            "boards": reports,
        }
        try:
            _report.write_json(a.json, doc)
        except BrokenPipeError:
            raise
        except OSError as e:
            raise failure(f"Error: cannot write the JSON report {a.json}: {e.strerror or e}") from None
    return 1 if failed else 0




def total_fps(reports: list[dict[str, Any]]) -> float:
    """The fleet's throughput: the sum of the boards' (async pass) throughputs."""
    return sum(float(r.get("throughput_fps") or 0.0) for r in reports)


def _ms(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def table(reports: list[dict[str, Any]]) -> str:
    """One row per board (throughput, latency percentiles) and the total."""
    from vart_async import fleet

    rows = []
    for r in reports:
        lat = r.get("latency_ms") or {}
        fps = r.get("throughput_fps")
        rows.append((
            fleet.describe(r["board"]), str(r.get("status")),
            "n/a" if fps is None else f"{fps:.2f}", str(r.get("completed", "n/a")),
            _ms(lat.get("p50")), _ms(lat.get("p90")), _ms(lat.get("p99")),
        ))  # fmt: skip
    done = sum(int(r.get("completed") or 0) for r in reports)
    rows.append(("total", "", f"{total_fps(reports):.2f}", str(done), "", "", ""))
    headers = ("board", "status", "throughput FPS", "jobs", "p50 ms", "p90 ms", "p99 ms")
    return _report.table("Fleet (async pass per board)", headers, rows)
