"""`vart-async-bench`'s command line: every flag, its bounds and its help (the engines' flags come
from the registry)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

import vart_async
from vart_async import _cli_fleet, _cli_measure, _registry
from vart_async._cli_checks import (
    MAX_JOBS,
    MAX_SPIN_US,
    MAX_SWEEP,
    integer,
    jobs_count,
    jobs_list,
    percentiles,
    rates,
    seconds,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """`Error: <message>` and exit status 1, like every other error of the tool (not argparse's 2)."""
        print(f"Error: {message}", file=sys.stderr)
        self.exit(1)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="vart-async-bench",
        allow_abbrev=False,
        description="Pipelined asynchronous inference benchmark on VART-ML (Versal AI Edge Gen 2 NPU, or "
        "its emulator) and OpenVINO: AMD's vart_infer_async sample and more.",
        epilog="Without a model, runs the embedded default model (a dry-run unless --input-binary is "
        "given). Exit status: 0 ok, 1 error, 130 interrupted (Ctrl-C), 143 SIGTERM, 129 SIGHUP.",
    )
    p.add_argument("model_pos", nargs="?", metavar="MODEL", help="same as --model-path")
    p.add_argument("ifm_pos", nargs="?", metavar="IFM", help="same as --input-binary")
    s = p.add_argument_group("vart_infer_async options")
    s.add_argument(
        "-n", "--num-iteration", type=integer, metavar="N",
        help="jobs, 1..2^63-1 (default 10; with -t: at least N)",
    )
    s.add_argument("-d", "--dry-run", action="store_true", help="random IFM; no IFM read, no OFM writes")
    s.add_argument("--benchmark", action="store_true", help="time an async and a sync pass; no OFM writes")
    s.add_argument("--model-path", metavar="PATH", help=_model_kinds())
    s.add_argument("--input-binary", "--input_binary", dest="input_binary", metavar="PATH", help="IFM file")
    b = p.add_argument_group("benchmark options")
    b.add_argument(
        "--jobs", type=jobs_count, default=2, metavar="K",
        help=f"jobs in flight, 1..{MAX_JOBS}, or auto: the compiled model's OPTIMAL_NUMBER_OF_INFER_REQUESTS "
        "(default 2)",
    )
    b.add_argument(
        "--mode", choices=("async", "sync"), default="async",
        help="async (default), or sync: one job at a time, on a model compiled for latency unless the "
        "hint or properties are given (benchmark_app -api sync); --benchmark runs both",
    )
    b.add_argument("--engine", default="auto", choices=("auto", *_registry.names()), help="default: auto")
    b.add_argument(
        "-t", "--time", type=seconds, metavar="S", help="run S seconds, 0 < S <= 1e7 (with -n: both limits)"
    )
    b.add_argument(
        "--warmup", type=integer, metavar="N", help="unmeasured jobs before a pass, 0..2^63-1 (default K)"
    )
    b.add_argument(
        "--wait-timeout", type=seconds, default=30.0, metavar="S", help="per job, 0 < S <= 1e7 (default 30)"
    )
    b.add_argument("--spin-us", type=integer, default=vart_async.DEFAULT_SPIN_US, metavar="US",
                   help=f"openvino: poll up to US us (0..{MAX_SPIN_US}) before blocking while jobs are "
                   f"that short (default {vart_async.DEFAULT_SPIN_US}; 0: always block)")
    b.add_argument("--json", metavar="PATH", help="write a JSON report ('-': stdout, text to stderr)")
    b.add_argument("--verify", action="store_true", help="async and sync outputs must be bit-identical")
    b.add_argument(
        "--sweep-jobs", type=jobs_list, metavar="LIST",
        help=f"e.g. 1,2,4,8: a run per K (at most {MAX_SWEEP}, each 1..{MAX_JOBS})",
    )
    b.add_argument("--output-dir", default=".", metavar="DIR", help="where OFM files go (default .)")
    b.add_argument(
        "--seed", type=integer, default=0, metavar="N", help="dry-run: seed of the random inputs (default 0)"
    )
    b.add_argument(
        "--input-data", metavar="PATH",
        help="real inputs, a different frame per job, cycled: a .npy/.npz, an image, or a directory of "
        ".npy/.npz/image/raw files (images need Pillow)",
    )
    b.add_argument(
        "--percentiles", type=percentiles, metavar="LIST",
        help="latency percentiles to report, e.g. 50,90,95,99,99.9 (default 50,90,99)",
    )
    m = p.add_argument_group("open-loop arrivals (a camera does not wait for the NPU)")
    m.add_argument(
        "--rate", type=rates, metavar="JOBS_PER_S",
        help="submit on a schedule at this rate (jobs/s) instead of as fast as slots free; latency runs "
        "from each job's arrival; a list (100,200,400) runs one pass per rate",
    )
    m.add_argument("--arrival", choices=("constant", "poisson"), default="constant",
                   help="with --rate: constant spacing (default) or a Poisson process (seed: --seed)")
    m.add_argument("--drop-late", action="store_true",
                   help="with --rate: an arrival that finds every slot busy is dropped (counted), not queued")
    w = p.add_argument_group("measuring like the best tools")
    w.add_argument(
        "--stable", type=_cli_measure.stability, metavar="PCT[:WINDOWS:WINDOW_S]",
        help="measure in windows (default 3 of 2 s) until the last ones agree within ±PCT %% in throughput "
        "and p99; -t is then the maximum (default 10x the windows)",
    )
    w.add_argument(
        "--max-latency", type=_cli_measure.budget, metavar="MS[:PCT]",
        help="search (bisection over the arrival rate) for the highest throughput whose PCT percentile "
        "(default 99) stays within MS",
    )
    w.add_argument("--export-jobs", metavar="CSV", help="a row per measured job: slot, frame, times, status")
    c = p.add_argument_group("runtime configuration (benchmark_app's -load_config / -dump_config)")
    c.add_argument(
        "--property", action="append", default=[], metavar="KEY=VALUE",
        help="a runtime property as OpenVINO names it (repeatable; wins over the flags and --load-config)",
    )
    c.add_argument("--load-config", metavar="FILE", help="properties from JSON: device -> {key: value}")
    c.add_argument("--dump-config", metavar="FILE", help="write what was asked of the runtime, same form")
    b.add_argument("-q", "--quiet", action="store_true", help="no live progress line")
    g = p.add_argument_group("pictures (matplotlib: pip install 'vart-async[plot]')")
    g.add_argument("--timeline", metavar="PNG", help="per-slot timeline of the measured jobs")
    g.add_argument("--plot-latency", metavar="PNG", help="latency histogram with p50/p90/p99")
    g.add_argument("--plot", metavar="PNG", help="with --sweep-jobs: throughput and p99 against jobs")
    _add_engine_flags(p, [s, b, g])
    _cli_fleet.add_arguments(p)  # --fleet, --boards
    return p


def _model_kinds() -> str:
    """`--model-path` help: `.rai / .json / model dir (vart), .onnx / .xml (openvino)`."""
    kinds = [
        " / ".join(r.suffixes + (("model dir",) if r.directories else ())) + f" ({r.name})"
        for r in _registry.records()
    ]
    return ", ".join(kinds)


def _add_engine_flags(p: argparse.ArgumentParser, tool_groups: list[argparse._ArgumentGroup]) -> None:
    """Every engine's option flags, from the registry, in the --help group its record names: one of
    the tool's own (their flags come first), or a group of its own after them."""
    groups = {str(group.title): group for group in tool_groups}
    for record in _registry.records():
        title = record.cli_group or f"{record.title} engine options"
        if title not in groups:
            groups[title] = p.add_argument_group(title)
        for o in record.options:
            typed: dict[str, Any] = {"type": o.type} if o.type is not None else {}
            groups[title].add_argument(
                o.flag, dest=o.key, choices=o.choices, metavar=o.metavar, help=o.help, **typed
            )
