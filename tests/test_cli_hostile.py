"""vart-async-bench under hostile input (issue 13): numbers past every bound, and models and IFMs
that are not regular files. Every case ends in `Error: ...` or `[ERROR] ...` on stderr and exit
status 1, never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from _cli_helpers import run

HUGE = "99999999999999999999999"
SWEEP_BOUNDS = "Error: argument --sweep-jobs: takes at most 64 jobs counts, each at most 4096"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-n", HUGE], f"[ERROR] --num-iteration must be <= 9223372036854775807 (got {HUGE})."),
        (["--jobs", HUGE], "[ERROR] --jobs must be <= 4096 (got 99999999999999999999999)."),
        (["--jobs", "10000000000"], "[ERROR] --jobs must be <= 4096 (got 10000000000)."),
        (["--warmup", HUGE], "[ERROR] --warmup must be <= 9223372036854775807"),
        (["--spin-us", HUGE], "[ERROR] --spin-us must be <= 1000000"),
        (["--sweep-jobs", HUGE], SWEEP_BOUNDS),
        (["--sweep-jobs", ",".join(["1"] * 65)], "Error: argument --sweep-jobs: takes at most 64 jobs"),
        (["--wait-timeout", "1e300"], "[ERROR] --wait-timeout must be a number of seconds > 0 and <= 1e+07"),
        (["-t", "1e10"], "[ERROR] --time must be a number of seconds > 0 and <= 1e+07 (got 1e+10)."),
        (["-t", "inf"], "[ERROR] --time must be a number of seconds > 0 and <= 1e+07 (got inf)."),
        (["-t", "1e999"], "[ERROR] --time must be a number of seconds > 0 and <= 1e+07 (got inf)."),
        (["-n", "9" * 5000], "Error: argument -n/--num-iteration: invalid int value"),
    ],
)
def test_numbers_past_their_bounds_are_errors(capsys, tiny, argv, message):
    code, out, err = run(capsys, tiny, "-d", *argv)
    assert code == 1
    assert err.startswith(message), err
    assert len(err) < 400
    assert "Async" not in out


def test_the_bounds_themselves_are_accepted(capsys, tiny):
    code, _, err = run(capsys, tiny, "-d", "-n", "2", "--jobs", "4096", "--wait-timeout", "1e7", "--spin-us",
                       "1000000", "--warmup", "0")
    assert code == 0, err


def test_help_documents_the_bounds(capsys):
    code, out, _ = run(capsys, "-h")
    text = " ".join(out.split())
    assert code == 0
    for bound in ("jobs in flight, 1..4096", "jobs, 1..2^63-1", "0 < S <= 1e7", "(0..1000000)", "at most 64"):
        assert bound in text


def test_openvino_jobs_past_uint32_is_an_error_not_a_memory_error(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "--engine", "openvino", "-d", "--jobs", "4294967297")
    assert (code, err) == (1, "[ERROR] --jobs must be <= 4096 (got 4294967297).\n")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_as_model_or_ifm_is_named(capsys, tiny, device):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    code, _, err = run(capsys, device, "-d", "--engine", "vart")
    assert (code, err) == (1, f"Error: model path is not a regular file: {device} is a character device\n")
    code, _, err = run(capsys, tiny, device)
    assert code == 1
    assert err.endswith(f"Error: input binary is a character device: {device} (not a regular file)\n")


def test_a_fifo_as_model_or_ifm_is_named_at_once(capsys, tiny, tmp_path):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # no writer: opening it would block forever
    code, _, err = run(capsys, fifo, "-d")
    assert (code, err) == (1, f"Error: model path is not a regular file: {fifo} is a FIFO (named pipe)\n")
    code, _, err = run(capsys, tiny, fifo)
    assert code == 1
    assert err.endswith(f"Error: input binary is a FIFO (named pipe): {fifo} (not a regular file)\n")


def test_a_deeply_nested_descriptor_is_an_error_not_a_crash(tmp_path):
    (tmp_path / "d.json").write_text("[" * 200_000 + "]" * 200_000)
    p = _cli("d.json", "-d", cwd=tmp_path)
    assert p.returncode == 1, p.returncode
    assert "nested deeper than 64 levels" in p.stderr
    assert "Traceback" not in p.stderr


def _cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vart_async.cli", *argv],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )
