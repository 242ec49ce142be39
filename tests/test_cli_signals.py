"""vart-async-bench and signals (issue 13): SIGTERM and SIGHUP stop a run as Ctrl-C does (drain, partial
summary, report with a status naming the signal, exit 143 / 129), two Ctrl-C 10 ms apart still end in
130 with one report, and a reader that goes away (`| head`) ends the tool quietly (141).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _cli_helpers import run
from vart_async import cli


def _started(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    """The CLI as a process, returned once its first pass has begun."""
    p = subprocess.Popen(
        [sys.executable, "-m", "vart_async.cli", *argv],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert p.stdout is not None
    for line in p.stdout:
        if line.startswith("---- Async infer"):
            break
    time.sleep(0.3)  # well inside the pass: the run is in flight
    return p


@pytest.mark.parametrize(
    ("sig", "code", "status"),
    [(signal.SIGTERM, 143, "terminated (SIGTERM)"), (signal.SIGHUP, 129, "hung up (SIGHUP)")],
)
def test_sigterm_and_sighup_drain_summarise_and_report(descriptor, tmp_path, sig, code, status):
    model = descriptor(service_time_us=2000)
    p = _started([str(model), "-d", "-t", "60", "--json", "r.json"], tmp_path)
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == code, err
    assert "Traceback" not in err
    assert f"[WARN] {status}: submissions stopped, jobs in flight drained" in err
    assert out.count("---- Summary (partial) ----") == 1
    doc = json.loads((tmp_path / "r.json").read_text())
    assert (doc["status"], doc["error"], doc["reason"]) == (status, status, "cancelled")
    assert doc["submitted"] == doc["completed"] + doc["failed"] + doc["cancelled"]


@pytest.mark.parametrize("later", [0.0, 0.15])
def test_two_sigints_10_ms_apart_exit_130_with_one_report(descriptor, tmp_path, later):
    # Jobs of 300 ms, the warm-up the first 300: the second Ctrl-C comes when the process is already
    # on its way out (later=0: the first came as the measured jobs finished), or during the drain.
    model = descriptor(service_time_us=300_000)
    p = _started([str(model), "-d", "-t", "60", "--json", "r.json", "--benchmark"], tmp_path)
    time.sleep(later)
    p.send_signal(signal.SIGINT)
    time.sleep(0.01)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "Traceback" not in err
    assert out.count("---- Summary (partial) ----") == 1
    assert "---- Sync infer" not in out  # the next pass never starts
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["status"] == "interrupted"
    assert doc["submitted"] == doc["completed"] + doc["failed"] + doc["cancelled"]


def test_a_signal_before_the_first_pass_stops_without_a_report(capsys, tiny, monkeypatch):
    load_inputs = cli.Bench._load_inputs

    def signalled_while_staging(self, *args):
        os.kill(os.getpid(), signal.SIGTERM)  # handled at the next bytecode, in this (main) thread
        return load_inputs(self, *args)

    monkeypatch.setattr(cli.Bench, "_load_inputs", signalled_while_staging)
    code, out, err = run(capsys, tiny, "-d", "--json", "r.json")
    assert (code, err) == (143, "\nStopped by SIGTERM.\n")
    assert "Async" not in out
    assert not Path("r.json").exists()
    # On its way out the process ignores further stop signals (a second Ctrl-C must not kill it).
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN


@pytest.fixture(autouse=True)
def _own_signal_handlers():
    """In-process runs that got a signal leave the stop signals ignored: put them back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def test_handlers_are_put_back_after_a_run_without_signals(capsys, tiny):
    before = signal.getsignal(signal.SIGTERM)
    assert run(capsys, tiny, "-d", "-n", "2")[0] == 0
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_reader_that_goes_away_ends_the_tool_quietly(descriptor, tmp_path):
    model = descriptor(service_time_us=2000)
    p = subprocess.Popen(
        [sys.executable, "-m", "vart_async.cli", str(model), "-d", "-t", "1"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert p.stdout is not None
    assert p.stderr is not None
    head = [p.stdout.readline(), p.stdout.readline()]  # `| head -2`
    p.stdout.close()
    with p.stderr:
        err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 141, err
    assert head[0].startswith(b"Mode ")
    assert err == ""  # no BrokenPipeError traceback, no "Exception ignored"


def test_a_shell_pipe_into_head(descriptor, tmp_path):
    model = descriptor(service_time_us=2000)
    p = subprocess.run(
        f"{sys.executable} -m vart_async.cli {model} -d -t 1 | head -2; echo \"status ${{PIPESTATUS[0]}}\"",
        shell=True, executable="/bin/bash", cwd=tmp_path, capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert p.stdout.splitlines()[-1] == "status 141"
    assert len(p.stdout.splitlines()) == 3
    assert "Traceback" not in p.stderr
    assert "BrokenPipe" not in p.stderr


@pytest.mark.parametrize(
    ("extra", "wait", "key"),
    [
        (["-t", "30", "--stable", "0.001:3:0.5"], 1.0, "stability"),  # windows that never agree
        (["-t", "1", "--rate", "50,100"], 1.6, "rate_sweep"),  # in the second rate's pass
        (["-n", "5", "--max-latency", "0.001"], 1.0, "latency_budget"),  # in the search: nothing fits
    ],
)
def test_ctrl_c_during_the_measurements_still_reports(descriptor, tmp_path, extra, wait, key):
    model = descriptor(service_time_us=2000, service_jitter_us=3000)
    p = _started([str(model), "-d", "--json", "r.json", *extra], tmp_path)
    time.sleep(wait)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "Traceback" not in err
    assert out.count("---- Summary") == 1
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["status"] == "interrupted"
    assert doc["submitted"] == doc["completed"] + doc["failed"] + doc["cancelled"]
    if key == "stability":
        assert doc["stability"]["converged"] is False
        assert doc["stability"]["measured_windows"] >= 1
    else:
        assert key in doc  # what was measured before the signal
