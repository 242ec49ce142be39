"""Pipeline semantics as a user sees them through Session.run and submit/wait."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import vart_async


def test_exact_count_depth_and_fifo(descriptor):
    with vart_async.open(descriptor(service_time_us=300), jobs=3, completion="poll") as s:  # FIFO
        r = s.run(iterations=25)
    assert (r.submitted, r.completed, r.failed, r.cancelled) == (25, 25, 0, 0)
    assert r.reason == "finished"
    assert r.max_in_flight in {2, 3}  # the runtime has 2 execution slots
    assert len(r.latencies_ms) == 25
    assert np.all(np.diff(r.t_done) >= 0), "jobs are collected in submission order"
    assert list(r.slot[:6]) == [0, 1, 2, 0, 1, 2] or r.busy_retries > 0
    assert r.fps == pytest.approx(25 * 2 / r.wall_s)


@pytest.mark.parametrize("jobs", [1, 2, 4, 8])
def test_any_number_of_slots(descriptor, jobs):
    with vart_async.open(descriptor(execution_slots=8, compute_units=2), jobs=jobs) as s:
        r = s.run(iterations=40)
        fifo = s.run(iterations=40, in_order=True)
    assert r.completed == fifo.completed == 40
    assert r.max_in_flight == fifo.max_in_flight == jobs
    assert set(r.slot) == set(range(jobs))  # collected as they finish: every slot used
    # Collected oldest first, each slot is reused in turn: submission i goes to slot i % jobs.
    assert list(fifo.slot) == [i % jobs for i in range(40)]


def test_more_slots_than_runtime_slots_retries_busy(descriptor):
    with vart_async.open(descriptor(service_time_us=500, execution_slots=2), jobs=4) as s:
        r = s.run(iterations=30)
    assert r.completed == 30
    assert r.busy_retries > 0
    assert r.max_in_flight <= 4


def test_time_limit(descriptor):
    with vart_async.open(descriptor(service_time_us=200), jobs=2) as s:
        r = s.run(time_limit=0.3)
    assert r.wall_s >= 0.3
    assert r.completed == r.submitted > 10


def test_sync_mode_runs_one_job_at_a_time(descriptor):
    with vart_async.open(descriptor(service_time_us=200), jobs=2) as s:
        r = s.run(iterations=10, mode="sync")
    assert r.completed == 10
    assert r.max_in_flight == 1
    assert np.all(r.t_submit[1:] >= r.t_done[:-1])


def test_cancel_from_another_thread_drains(descriptor):
    with vart_async.open(descriptor(service_time_us=1000), jobs=2) as s:
        timer = threading.Timer(0.2, s.cancel)
        timer.start()
        r = s.run(time_limit=30)
        timer.join()
    assert r.reason == "cancelled"
    assert r.wall_s < 5
    assert r.completed == r.submitted > 0
    assert r.cancelled == 0


def test_low_level_submit_wait(descriptor):
    with vart_async.open(descriptor(service_time_us=20_000), jobs=2) as s:
        job = s.submit(0)
        assert not job.done()
        with pytest.raises(ValueError, match="in flight"):
            s.submit(0)
        with pytest.raises(vart_async.WaitTimeoutError):
            job.wait(timeout=0.001)
        job.wait()
        assert job.done()
        job.wait()  # waiting again on a finished job is fine
        # The slot can be reused once its job is done.
        s.submit(0).wait(timeout=5)


def test_run_argument_errors(descriptor):
    with vart_async.open(descriptor(), jobs=2) as s:
        for kwargs in (
            {},
            {"iterations": 0},
            {"iterations": -1},
            {"time_limit": 0},
            {"iterations": 1, "mode": "fast"},
            {"iterations": 1, "wait_timeout": 0},
        ):
            with pytest.raises(ValueError, match=r"must|give|mode"):
                s.run(**kwargs)
    with pytest.raises(ValueError, match="jobs"):
        vart_async.open(descriptor(), jobs=0)
    for spin in (-1, True, 1.5):
        with pytest.raises(ValueError, match="spin_us must be an integer >= 0"):
            vart_async.open(descriptor(), spin_us=spin)


def test_result_reports_process_cpu_time(descriptor):
    with vart_async.open(descriptor(service_time_us=200), jobs=2) as s:
        r = s.run(iterations=200)
    assert 0 < r.cpu_s < 10 * r.wall_s
    assert r.to_dict()["process_cpu_s"] == r.cpu_s


def test_closed_session(descriptor):
    s = vart_async.open(descriptor(), jobs=2)
    s.close()
    s.close()  # idempotent
    with pytest.raises(vart_async.PipelineClosedError):
        s.run(iterations=1)
    with pytest.raises(vart_async.PipelineClosedError):
        s.submit(0)


def test_run_does_not_hold_the_gil(descriptor):
    """A Python thread keeps running while a long run is in C++."""
    counter = 0
    stop = threading.Event()

    def spin():
        nonlocal counter
        while not stop.is_set():
            counter += 1

    with vart_async.open(descriptor(service_time_us=2000), jobs=2) as s:
        t = threading.Thread(target=spin)
        t.start()
        time.sleep(0.05)
        before = counter
        r = s.run(iterations=200)  # about 0.2 s of emulated device time
        during = counter - before
        stop.set()
        t.join()
    assert r.completed == 200
    # Had the GIL been held, the thread would have run only at the switch interval of the waits.
    assert during > 100_000
