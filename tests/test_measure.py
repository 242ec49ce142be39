"""Measuring like the best tools: stability windows, the latency-budget search, per-job export."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

import vart_async
from _cli_helpers import run  # tests/ is on pythonpath
from vart_async._cli_measure import Budget, Stability, search_budget
from vart_async.results import RunResult


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # reports and CSVs go there


@pytest.fixture
def steady(descriptor) -> str:
    return str(descriptor("steady.json", compute_units=2, execution_slots=2, service_time_us=1000))


@pytest.fixture
def queueing(descriptor) -> str:
    """2 compute units and 4 execution slots: past 2 jobs in flight, jobs queue in the runtime. Jobs
    of 4 ms, so that a loaded machine's wake-up delays stay small beside them."""
    return str(descriptor("queueing.json", compute_units=2, execution_slots=4, service_time_us=4000))


@pytest.fixture
def jittery(descriptor) -> str:
    return str(
        descriptor(
            "jittery.json", compute_units=2, execution_slots=2, service_time_us=200, service_jitter_us=20000
        )
    )


def test_stable_converges_on_a_steady_model(capsys, steady):
    code, out, err = run(
        capsys, steady, "-d", "--jobs", "2", "--stable", "30:3:0.3", "-t", "20", "--json", "r.json"
    )
    assert code == 0, err
    doc = json.loads(Path("r.json").read_text())
    st = doc["stability"]
    assert st["converged"] is True
    assert st["measured_windows"] >= 3
    assert len(st["windows"]) == st["measured_windows"]
    assert st["elapsed_s"] < 20
    assert "Stability          : converged after" in out
    last = st["windows"][-3:]
    assert doc["completed"] == sum(w["completed"] for w in last)  # the pass is the last windows together


def test_stable_reports_a_run_that_does_not_converge(capsys, jittery):
    code, out, _ = run(capsys, jittery, "-d", "--stable", "0.01:3:0.2", "-t", "1.2", "--json", "r.json")
    assert code == 0
    st = json.loads(Path("r.json").read_text())["stability"]
    assert st["converged"] is False
    assert st["elapsed_s"] <= 1.2 + 0.5  # -t is the maximum
    assert "did NOT converge" in out


def test_stability_rule():
    s = Stability(10)
    assert s.agree([100, 105, 95])
    assert not s.agree([100, 130, 95])
    assert not s.agree([0, 0, 0])


@pytest.mark.parametrize("bad", ["0", "101", "x", "5:1", "5:3:0.01", "5:3:2:1", "nan", "5:x"])
def test_bad_stable_values(capsys, tiny, bad):
    code, out, err = run(capsys, tiny, "-d", "--stable", bad)
    assert code == 1
    assert "--stable: must be PCT[:WINDOWS:WINDOW_S]" in err
    assert "Traceback" not in out + err


def test_the_budget_search_finds_the_knee(capsys, queueing):
    """4 ms jobs on 2 compute units: 2 in flight keep latency near 4 ms, more queue behind them."""
    code, out, err = run(
        capsys,
        queueing,
        "-d",
        "-n",
        "10",
        "--jobs",
        "4",
        "--max-latency",
        "6.4:90",
        "--stable",
        "50:2:0.3",
        "--json",
        "r.json",
    )
    assert code == 0, err
    doc = json.loads(Path("r.json").read_text())["latency_budget"]
    assert doc["budget_ms"] == 6.4
    assert doc["percentile"] == 90
    best = doc["best"]
    assert best is not None
    assert best["jobs_in_flight"] == 2
    assert best["p90_ms"] <= 6.4
    assert best["throughput_fps"] > 375  # 2 units / 4 ms = 500 at most
    assert "Best               : " in out
    assert any(not p["within"] for p in doc["points"])  # the deeper pipeline was tried and refused


def test_the_budget_search_falls_back_to_the_rate():
    """When even one job in flight is over the budget, the rate is bisected below it."""

    class Fake:
        def __init__(self, ms: float, fps: float) -> None:
            self.fps = self.jobs_per_s = fps
            self.ok = True
            self.completed = 10
            self._ms = ms

        def latency_stats(self, percentiles):
            return {"p99": self._ms}

    def run_at(rate, depth):  # latency over budget unless the rate is below 30 jobs/s
        if rate is None:
            return Fake(5.0, 100.0 * depth)
        return Fake(1.0 if rate < 30 else 5.0, rate)

    doc = search_budget(Budget(2.0), run_at, jobs=4)
    assert doc["best"]["rate_jobs_per_s"] < 30
    assert doc["best"]["rate_jobs_per_s"] > 20
    assert [p["jobs_in_flight"] for p in doc["points"][:2]] == [2, 1]


@pytest.mark.parametrize("bad", ["0", "-1", "x", "3:0", "3:101", "nan:5"])
def test_bad_max_latency_values(capsys, tiny, bad):
    code, out, err = run(capsys, tiny, "-d", "--max-latency", bad)
    assert code == 1
    assert "--max-latency: must be MS[:PCT]" in err
    assert "Traceback" not in out + err


def test_export_jobs_has_a_row_per_measured_job(capsys, tiny):
    code, out, err = run(capsys, tiny, "-d", "-n", "25", "--benchmark", "--export-jobs", "jobs.csv")
    assert code == 0, err
    with open("jobs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 50
    assert {r["pass"] for r in rows} == {"async", "sync"}
    async_rows = [r for r in rows if r["pass"] == "async"]
    assert [int(r["job"]) for r in async_rows] == list(range(25))
    assert all(r["status"] == "completed" for r in rows)
    for r in async_rows:
        assert float(r["host_submit_s"]) <= float(r["submit_returned_s"]) <= float(r["host_done_s"])
        assert float(r["latency_ms"]) > 0
    assert "Wrote jobs.csv (50 jobs)" in out
    code, _, err = run(capsys, tiny, "-d", "-n", "2", "--export-jobs", "no/such/dir/x.csv")
    assert code == 1
    assert "cannot write --export-jobs" in err


def test_concat_joins_windows(tiny):
    with vart_async.open(tiny, jobs=2) as s:
        a, b = s.run(20), s.run(30)
    c = RunResult.concat([a, b])
    assert c.completed == 50
    assert c.wall_s == pytest.approx(a.wall_s + b.wall_s)
    assert len(c.t_submit) == 50
    assert np.all(c.t_submit[20:] >= a.wall_s)
    assert c.latency_counts is not None
    assert int(c.latency_counts.sum()) == 50


def test_max_in_flight_limits_the_depth(tiny):
    with vart_async.open(tiny, jobs=4) as s:
        assert s.run(40, max_in_flight=1).max_in_flight == 1
        assert s.run(40, max_in_flight=3).max_in_flight <= 3
        for bad in (0, 5, 1.5, True):
            with pytest.raises(ValueError, match="max_in_flight"):
                s.run(4, max_in_flight=bad)


def test_the_emulator_reports_device_times_per_compute_unit(capsys, steady):
    with vart_async.open(steady, jobs=4) as s:
        r = s.run(60)
        sync = s.run(5, mode="sync")
    assert r.device_known
    assert r.t_device_start is not None
    assert r.t_device_end is not None
    assert r.device_unit is not None
    assert set(r.device_unit.tolist()) == {0, 1}  # 2 compute units
    span = r.t_device_end - r.t_device_start
    assert np.all(span >= 0.001 * 0.99)  # the 1 ms service time
    # each unit runs one job at a time
    for u in (0, 1):
        on = np.argsort(r.t_device_start[r.device_unit == u])
        starts, ends = r.t_device_start[r.device_unit == u][on], r.t_device_end[r.device_unit == u][on]
        assert np.all(starts[1:] >= ends[:-1] - 1e-6)
    assert not sync.device_known  # execute() (sync) has no job id to ask about
    code, out, _ = run(capsys, steady, "-d", "-n", "20", "--jobs", "4", "--export-jobs", "j.csv")
    assert code == 0
    assert re.search(r"submit to device start \d+\.\d{3} ms, device \d+\.\d{3} ms", out)  # the time split
    with open("j.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert all(r["device_start_s"] and r["compute_unit"] in ("0", "1") for r in rows)
