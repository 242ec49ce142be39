"""Property-based fuzzing (Hypothesis) of what users hand us: emulator descriptors and CLI arguments.

Every case must end in success or a clean error within a time bound: never a crash (a signal exit), a
hang or a traceback. Descriptors run in-process (vart_async.open on a file; only ValueError and
VartAsyncError may come out); argument vectors run the CLI as a subprocess, with fewer examples.

Profiles (docs/emulator.md, "Fuzzing"): the default is short and deterministic (a few seconds, part
of the normal suite); VART_ASYNC_FUZZ=long runs many more random cases (about ten minutes).
VART_ASYNC_FUZZ_STATS=PATH appends one JSON line of outcome counts per test.
"""

from __future__ import annotations

import collections
import faulthandler
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import vart_async
from _fuzz_strategies import cli_argvs, descriptor_texts, estimated_bytes
from conftest import TINY

LONG = os.environ.get("VART_ASYNC_FUZZ", "") == "long"
_COMMON: dict[str, Any] = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("vart-async-short", derandomize=True, **_COMMON)
settings.register_profile("vart-async-long", derandomize=False, **_COMMON)
PROFILE = settings.get_profile("vart-async-long" if LONG else "vart-async-short")
DESCRIPTOR_EXAMPLES = 30000 if LONG else 60
CLI_EXAMPLES = 1200 if LONG else 4
CASE_SECONDS = 60  # a case taking longer is a hang
MAX_ALLOC = 256 << 20  # valid descriptors allocating more are not opened (see _fuzz_strategies)


class _Stats:
    """Outcome counts of one fuzz test, reported through VART_ASYNC_FUZZ_STATS."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.counts: collections.Counter[str] = collections.Counter()
        self.slowest = 0.0

    def add(self, outcome: str, seconds: float) -> None:
        self.counts[outcome] += 1
        self.slowest = max(self.slowest, seconds)

    def write(self) -> None:
        path = os.environ.get("VART_ASYNC_FUZZ_STATS")
        if path:
            line = {
                "test": self.name,
                "cases": sum(self.counts.values()),
                "slowest_s": round(self.slowest, 3),
                "outcomes": dict(self.counts),
            }
            with open(path, "a") as f:
                f.write(json.dumps(line) + "\n")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _open_and_maybe_run(path: Path, text: bytes) -> tuple[str, str]:
    """Opens the descriptor (and runs two jobs when it loads and they are quick): (outcome, message).

    Only the errors a user is promised may come out; anything else fails the case.
    """
    jobs = 2
    if estimated_bytes(text, jobs) > MAX_ALLOC:
        return "skipped (large)", ""
    try:
        with vart_async.open(path, engine="vart", jobs=jobs) as s:
            if _quick(text):
                s.run(iterations=2, wait_timeout=2.0)
                return "ran", ""
            return "opened", ""
    except (ValueError, vart_async.VartAsyncError) as e:
        return type(e).__name__, str(e)


def _quick(text: bytes) -> bool:
    """Whether two jobs of a descriptor that loaded take well under a second."""
    try:
        doc = json.loads(text)
        faults = doc.get("faults") or {}
        factor = (faults.get("stragglers") or {}).get("factor", 1)
        slowest_us = doc.get("service_time_us", 0) * 1.5 * max(factor, 1)  # out_of_order x straggler
        return bool(
            slowest_us <= 15_000
            and doc.get("service_jitter_us", 0) <= 10_000
            and faults.get("stall_ms", 0) <= 100
        )
    except Exception:  # a text only the emulator reads: opening it is the test
        return False


@settings(PROFILE, max_examples=DESCRIPTOR_EXAMPLES)
@given(text=descriptor_texts())
def test_mutated_descriptors_load_or_fail_cleanly(workdir: Path, text: bytes) -> None:
    stats = _DESCRIPTOR_STATS
    path = workdir / "fuzz.json"
    path.write_bytes(text)
    faulthandler.dump_traceback_later(CASE_SECONDS, exit=True)  # a hang ends the run, with a traceback
    t0 = time.monotonic()
    try:
        outcome, message = _open_and_maybe_run(path, text)
    finally:
        faulthandler.cancel_dump_traceback_later()
    elapsed = time.monotonic() - t0
    stats.add(outcome, elapsed)
    assert elapsed < CASE_SECONDS
    assert len(message) < 2000, message[:300]  # messages quote bounded excerpts
    message.encode("utf-8")  # valid text: no lone surrogates from a C++ message


@pytest.fixture(scope="module")
def cli_inputs(workdir: Path) -> tuple[list[str], list[str]]:
    tiny = workdir / "tiny.json"
    tiny.write_text(json.dumps(TINY))
    (workdir / "garbage.json").write_bytes(b"\xff\x00{[" * 100)
    (workdir / "model.rai").write_bytes(b"\0" * 64)
    (workdir / "dir").mkdir(exist_ok=True)
    fifo = workdir / "fifo.json"
    if not fifo.exists():
        os.mkfifo(fifo)
    (workdir / "ifm.bin").write_bytes(bytes(range(24)) * 3)
    (workdir / "short.bin").write_bytes(b"x")
    models = [str(tiny)] * 4 + [str(workdir / n) for n in ("garbage.json", "model.rai", "dir", "fifo.json")]
    models += ["/dev/zero", str(workdir / "missing.json"), "x.onnx"]
    ifms = [str(workdir / n) for n in ("ifm.bin", "short.bin", "fifo.json", "dir", "missing.bin")]
    ifms.append("/dev/null")
    return models, ifms


def test_mutated_command_lines_end_cleanly(workdir: Path, cli_inputs: tuple[list[str], list[str]]) -> None:
    models, ifms = cli_inputs
    stats = _CLI_STATS

    @settings(PROFILE, max_examples=CLI_EXAMPLES)
    @given(argv=cli_argvs(models, ifms))
    def case(argv: list[str]) -> None:
        t0 = time.monotonic()
        p = subprocess.run(
            [sys.executable, "-m", "vart_async.cli", *argv, "--output-dir", str(workdir / "out")],
            cwd=workdir, capture_output=True, timeout=CASE_SECONDS, check=False, stdin=subprocess.DEVNULL,
        )
        elapsed = time.monotonic() - t0
        err = p.stderr.decode("utf-8", "replace")
        stats.add(f"exit {p.returncode}", elapsed)
        assert p.returncode in (0, 1), (argv, p.returncode, err[-2000:])  # < 0: killed by a signal
        assert "Traceback" not in err, (argv, err[-2000:])
        if p.returncode == 1:  # an error always says what it is
            assert any(line.startswith(("Error: ", "[ERROR] ")) for line in err.splitlines()), (argv, err)
        assert math.isfinite(elapsed)

    case()


_DESCRIPTOR_STATS = _Stats("descriptors")
_CLI_STATS = _Stats("cli")


@pytest.fixture(scope="module", autouse=True)
def _report_stats() -> Any:
    yield
    for s in (_DESCRIPTOR_STATS, _CLI_STATS):
        if s.counts:
            s.write()
