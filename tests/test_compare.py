"""`vart-async-bench compare`, and the summary's time split and hints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from _cli_helpers import run  # tests/ is on pythonpath
from vart_async import _hints
from vart_async._cli_compare import change_pct, rule


def _report(path: str, fps: float, p99: float, jobs: int = 2) -> str:
    doc = {
        "schema": "vart-async-bench/1",
        "engine": "vart",
        "jobs": jobs,
        "throughput_fps": fps,
        "latency_ms": {"min": 1.0, "p50": 2.0, "p99": p99, "max": 9.0},
        "configuration": {"properties": {"NUM_STREAMS": str(jobs)}},
    }
    Path(path).write_text(json.dumps(doc))
    return path


def test_compare_prints_both_and_gates_on_rules(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, b = _report("a.json", 1000, 3.0), _report("b.json", 940, 3.2, jobs=4)
    code, out, err = run(capsys, "compare", a, b)
    assert code == 0
    assert "| throughput | 1000.000 | 940.000 | -6.0%  |" in out
    assert "NUM_STREAMS" in out  # the configuration differences
    code, _, err = run(capsys, "compare", a, b, "--fail-if", "throughput<-5%")
    assert code == 1
    assert "FAIL: throughput<-5% (changed -6.0%)" in err
    code, _, _ = run(capsys, "compare", a, b, "--fail-if", "throughput<-10%", "--fail-if", "p99>+10%")
    assert code == 0
    code, _, err = run(capsys, "compare", a, b, "--fail-if", "p99>+5%")
    assert code == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["a.json"], "the following arguments are required"),
        (["a.json", "missing.json"], "not a regular file"),
        (["a.json", "bad.json"], "is not a JSON report"),
        (["a.json", "other.json"], "is not a vart-async-bench JSON report"),
        (["a.json", "a.json", "--fail-if", "throughput<5"], "must be METRIC<PCT%"),
        (["a.json", "a.json", "--fail-if", "p42<-5%"], "no metric 'p42'"),
    ],
)
def test_compare_errors(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    _report("a.json", 1000, 3.0)
    Path("bad.json").write_text("{")
    Path("other.json").write_text('{"x": 1}')
    code, out, err = run(capsys, "compare", *argv)
    assert code == 1
    assert message in err
    assert "Traceback" not in out + err


def test_rules_and_changes():
    assert rule("throughput<-5%").broken(-6)
    assert not rule("throughput<-5%").broken(-4)
    assert rule(" p99.9 > +10 % ").broken(11)
    assert change_pct(0, 0) == 0
    assert change_pct(0, 1) == float("inf")


def test_a_real_report_compares_with_itself(capsys, tiny):
    code, _, _ = run(capsys, tiny, "-d", "-n", "50", "--json", "r.json")
    assert code == 0
    code, out, _ = run(capsys, "compare", "r.json", "r.json", "--fail-if", "throughput<-1%")
    assert code == 0
    assert "+0.0%" in out


def test_time_split_and_the_warm_up_hint(tiny):
    import vart_async

    with vart_async.open(tiny, jobs=2) as s:
        r = s.run(200)
    assert "host submission" in (_hints.time_split(r) or "")
    slow_start = np.array(r.t_done)
    slow_start[:20] += 0.05  # the first tenth 50 ms slower
    from dataclasses import replace

    hinted = _hints.hints(replace(r, t_done=slow_start), warmup=0)
    assert any(h.startswith("warm-up too short (0 job(s))") for h in hinted)
