"""Open-loop arrivals: jobs submitted on a schedule (run(rate=...), --rate), latency from arrival."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import vart_async
from _cli_helpers import run  # tests/ is on pythonpath


@pytest.fixture
def two_ms(descriptor, tmp_path, monkeypatch) -> str:
    """2 compute units, 2 ms per job: a capacity of about 1000 jobs/s (the test runs in tmp_path)."""
    monkeypatch.chdir(tmp_path)
    return str(descriptor("two_ms.json", compute_units=2, execution_slots=2, service_time_us=2000))


def test_below_capacity_the_rate_is_achieved_and_latency_is_the_service_time(two_ms):
    with vart_async.open(two_ms, jobs=4) as s:
        r = s.run(time_limit=1.5, rate=300)
    rate = r.rate_report()
    assert rate is not None
    assert rate["target_jobs_per_s"] == 300
    assert rate["arrivals"] == r.submitted + r.dropped
    assert 300 * 0.95 <= rate["achieved_jobs_per_s"] <= 300 * 1.05
    assert r.dropped == 0
    assert 2.0 <= r.latency_stats()["p50"] < 4.0  # about one service time: no queue
    # arrivals are spaced by 1/rate from the run's start
    gaps = np.diff(r.t_arrival)
    assert np.allclose(gaps, 1 / 300, rtol=1e-6)


def test_above_capacity_the_backlog_shows_in_the_latency(two_ms):
    with vart_async.open(two_ms, jobs=4) as s:
        under = s.run(time_limit=1.0, rate=200)
        over = s.run(time_limit=1.0, rate=3000)
    assert over.jobs_per_s < 0.8 * 3000
    assert over.latency_stats()["p90"] > 20 * under.latency_stats()["p90"]  # a queue that grows
    assert over.late > 0.5 * over.submitted
    # closed-loop latency (from submission) would hide it: from arrival it grows through the run
    lat = over.latencies_ms
    assert lat[-len(lat) // 10 :].mean() > 3 * lat[: len(lat) // 10].mean()


def test_drop_late_drops_what_finds_the_pipeline_full(two_ms):
    with vart_async.open(two_ms, jobs=4) as s:
        r = s.run(time_limit=1.0, rate=3000, drop_late=True)
    assert r.dropped > 0
    assert r.submitted + r.dropped == r.rate_report()["arrivals"]
    assert r.latency_stats()["p99"] < 50  # what ran did not queue
    assert r.submitted == r.completed + r.failed + r.cancelled


def test_iterations_count_arrivals_and_poisson_is_seeded(two_ms):
    with vart_async.open(two_ms, jobs=4) as s:
        a = s.run(200, rate=400, arrival="poisson", seed=7)
        b = s.run(200, rate=400, arrival="poisson", seed=7)
        c = s.run(200, rate=400, arrival="poisson", seed=8)
    assert a.submitted == 200
    assert np.array_equal(a.t_arrival, b.t_arrival)
    assert not np.array_equal(a.t_arrival, c.t_arrival)
    gaps = np.diff(a.t_arrival)
    assert gaps.std() > 0.5 * gaps.mean()  # exponential gaps, not constant ones
    assert a.rate_report()["arrival"] == "poisson"


def test_a_low_rate_is_cancellable_between_arrivals(two_ms):
    with vart_async.open(two_ms, jobs=2) as s:
        threading.Timer(0.3, s.cancel).start()
        t0 = time.monotonic()
        r = s.run(time_limit=60, rate=0.5)  # the second job is due in 2 s
        assert time.monotonic() - t0 < 1.5
    assert r.reason == "cancelled"
    assert r.submitted == r.completed == 1


@pytest.mark.parametrize("rate", [0, -1, float("nan"), float("inf"), "10", True])
def test_bad_rates_are_value_errors(tiny, rate):
    with vart_async.open(tiny) as s, pytest.raises(ValueError, match="rate must be"):
        s.run(10, rate=rate)


def test_bad_arrival_and_seed(tiny):
    with vart_async.open(tiny) as s:
        with pytest.raises(ValueError, match="arrival must be"):
            s.run(10, rate=10, arrival="bursty")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="seed must be"):
            s.run(10, rate=10, seed=-1)


def test_cli_rate_and_rate_sweep(capsys, two_ms):
    code, out, err = run(
        capsys, two_ms, "-d", "-t", "0.6", "--jobs", "4", "--rate", "200,400", "--json", "r.json"
    )
    assert code == 0, err
    assert "Arrivals         : constant, 200 jobs/s asked" in out
    assert "Rate sweep" in out
    doc = json.loads(Path("r.json").read_text())
    assert doc["rate"]["target_jobs_per_s"] == 200
    assert {"achieved_fps", "late", "dropped", "late_max_ms", "arrivals"} <= set(doc["rate"])
    assert [row["target_jobs_per_s"] for row in doc["rate_sweep"]] == [200, 400]
    assert "from each job's scheduled arrival" in doc["latency_definition"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rate", "0"], "--rate: must be jobs per second"),
        (["--rate", "nan"], "--rate: must be jobs per second"),
        (["--rate", "10,x"], "--rate: must be jobs per second"),
        (["--rate", ",".join(["10"] * 65)], "at most 64 rates"),
        (["--drop-late"], "--drop-late goes with --rate"),
        (["--rate", "10", "--sweep-jobs", "1,2"], "one sweep at a time"),
        (["--rate", "10", "--arrival", "bursty"], "invalid choice"),
    ],
)
def test_cli_bad_rate_options(capsys, tiny, argv, message):
    code, out, err = run(capsys, tiny, "-d", *argv)
    assert code == 1
    assert message in err
    assert "Traceback" not in out + err
