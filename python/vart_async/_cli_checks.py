"""The numbers `vart-async-bench` takes, and their bounds (documented in --help and README.md).

A value past a bound would overflow a native type (a job count past 2^64, a timeout in ms past
2^63) or ask for memory no machine has (10^10 job slots), so it is an error before anything runs,
with the message format the rest of the tool uses.
"""

from __future__ import annotations

import argparse
import importlib.util
import math

MAX_JOBS = 4096  # job slots in flight, and each --sweep-jobs entry
MAX_SWEEP = 64  # --sweep-jobs entries
MAX_COUNT = 2**63 - 1  # jobs to run (-n, --warmup)
MAX_SPIN_US = 1_000_000
MAX_SECONDS = 1e7  # -t, --wait-timeout: about 116 days


def shown(text: str) -> str:
    """An argument as quoted in a message: a prefix of a long one."""
    return text if len(text) <= 40 else text[:37] + "..."


def integer(text: str) -> int:
    """The argparse type of the integer flags: argparse's own quotes the whole argument back."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: '{shown(text)}'") from None


def seconds(text: str) -> float:
    """The argparse type of -t and --wait-timeout (their range: check_numbers)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: '{shown(text)}'") from None


def jobs_count(text: str) -> int | str:
    """The argparse type of --jobs: a count (bounds: check_numbers) or auto."""
    return "auto" if text.strip().lower() == "auto" else integer(text)


def percentiles(text: str) -> tuple[float, ...]:
    """The argparse type of --percentiles: e.g. 50,90,99,99.9."""
    from vart_async.results import check_percentiles

    try:
        values = [float(v) for v in text.split(",")]
        return check_percentiles(values)
    except ValueError as e:
        detail = str(e) if "percentile" in str(e) else "numbers separated by commas"
        raise argparse.ArgumentTypeError(f"{detail} (got '{shown(text)}')") from None


def rates(text: str) -> list[float]:
    """The argparse type of --rate: jobs per second, one or a comma-separated list."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or not all(math.isfinite(v) and 0 < v <= 1e7 for v in values):
        raise argparse.ArgumentTypeError(
            f"must be jobs per second in (0, 1e7], or a list of them (got '{shown(text)}')"
        )
    if len(values) > MAX_SWEEP:
        raise argparse.ArgumentTypeError(f"takes at most {MAX_SWEEP} rates (got '{shown(text)}')")
    return values


def jobs_list(text: str) -> list[int]:
    """The argparse type of --sweep-jobs."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(
            f"must be a comma-separated list of positive integers (got '{shown(text)}')"
        )
    if len(values) > MAX_SWEEP or any(v > MAX_JOBS for v in values):
        raise argparse.ArgumentTypeError(
            f"takes at most {MAX_SWEEP} jobs counts, each at most {MAX_JOBS} (got '{shown(text)}')"
        )
    return values


def check_numbers(a: argparse.Namespace) -> str | None:
    """The first problem with the parsed arguments' numbers (and the flags that go together), or None."""
    checks = [
        ("--num-iteration", a.num_iteration, 1, MAX_COUNT),
        ("--jobs", None if a.jobs == "auto" else a.jobs, 1, MAX_JOBS),
        ("--warmup", a.warmup, 0, MAX_COUNT),
        ("--spin-us", a.spin_us, 0, MAX_SPIN_US),
        # engine flags (the engine bounds them by its native types); getattr: the flags come and go with
        # the engines registered
        ("--threads", getattr(a, "threads", None), 1, None),
    ]
    for flag, value, least, most in checks:
        if value is not None and value < least:
            return f"[ERROR] {flag} must be >= {least}."
        if value is not None and most is not None and value > most:
            return f"[ERROR] {flag} must be <= {most} (got {shown(str(value))})."
    together = [
        (a.drop_late and not a.rate, "--drop-late goes with --rate (it drops arrivals that find no slot)."),
        (a.rate and a.sweep_jobs, "--rate and --sweep-jobs: one sweep at a time."),
        (a.rate and a.max_latency, "--max-latency searches over the rate itself: it goes without --rate."),
        (a.plot and not a.sweep_jobs, "--plot goes with --sweep-jobs (it draws throughput and p99 by jobs)."),
    ]
    for wrong, why in together:
        if wrong:
            return f"[ERROR] {why}"
    if (a.timeline or a.plot_latency or a.plot) and importlib.util.find_spec("matplotlib") is None:
        return "Error: pictures need matplotlib: pip install 'vart-async[plot]'"
    for flag, seconds in (("--time", a.time), ("--wait-timeout", a.wait_timeout)):
        if seconds is not None and not (math.isfinite(seconds) and 0 < seconds <= MAX_SECONDS):
            return f"[ERROR] {flag} must be a number of seconds > 0 and <= {MAX_SECONDS:g} (got {seconds:g})."
    return None
