"""Fault injection: clear errors, every job accounted for, nothing lost, no hang."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

import vart_async


@pytest.mark.parametrize(
    ("completion", "said"),
    [("poll", "wait returned"), ("callback", "the execute_async callback reported")],
)
def test_failed_job_raises_with_partial_result(descriptor, completion, said):
    model = descriptor(service_time_us=100, faults={"fail_jobs": [4]})
    with vart_async.open(model, jobs=2, completion=completion) as s:
        with pytest.raises(vart_async.JobFailedError, match="RUNTIME_ERROR") as info:
            s.run(iterations=50)
        # One name for the job: the run's own ("job 3 failed"), not also VART's handle id.
        assert re.search(rf"job \d+ failed: {said} RUNTIME_ERROR \(", str(info.value)), str(info.value)
        assert "job_id" not in str(info.value)
        r = info.value.result
        assert r.reason == "job_failed"
        assert r.failed == 1
        assert r.submitted == r.completed + r.failed + r.cancelled
        assert r.submitted < 50  # stopped submitting
        # The session is still usable.
        assert s.run(iterations=5).completed == 5


def test_stall_past_the_wait_timeout(descriptor):
    model = descriptor(service_time_us=100, faults={"stall_jobs": [3], "stall_ms": 2000})
    with vart_async.open(model, jobs=2) as s:
        t0 = time.monotonic()
        with pytest.raises(vart_async.WaitTimeoutError, match="did not finish within 200 ms") as info:
            s.run(iterations=20, wait_timeout=0.2)
        assert time.monotonic() - t0 < 1.5
        r = info.value.result
        assert isinstance(info.value, TimeoutError)
        assert r.reason == "wait_timeout"
        assert r.submitted == r.completed + r.failed + r.cancelled
        # The stalled job's slot is not reused until the runtime finishes it; the other slot works.
        r2 = s.run(iterations=4, wait_timeout=5)
        assert r2.completed == 4


def test_busy_storm_is_retried(descriptor):
    model = descriptor(service_time_us=200, faults={"busy_storm": {"after_submissions": 3, "count": 50}})
    with vart_async.open(model, jobs=2) as s:
        r = s.run(iterations=12)
    assert r.completed == 12
    assert r.busy_retries >= 50


def test_out_of_order_completion_is_collected_in_order(descriptor):
    model = descriptor(service_time_us=2000, faults={"out_of_order": True})
    with vart_async.open(model, jobs=2, completion="poll") as s:
        r = s.run(iterations=10)
    assert r.completed == 10
    assert r.collected == "submission"  # polling waits for the oldest job (FIFO)
    assert (r.t_done[1:] >= r.t_done[:-1]).all()


def test_closing_with_a_stalled_job_in_flight_does_not_crash(descriptor):
    model = descriptor(service_time_us=100, faults={"stall_jobs": [1], "stall_ms": 300})
    s = vart_async.open(model, jobs=2)
    job = s.submit(0)
    assert not job.done()
    s.close()  # waits for the job before freeing its buffers


def test_stragglers_take_factor_times_the_service_time(descriptor):
    # Every 4th job (ids 4, 8, 12) takes 6 x 5 ms. The emulator never runs a job faster than
    # described (exact lower bounds); a loaded host only slows jobs, so the rest is a wide ratio.
    model = descriptor(service_time_us=5000, faults={"stragglers": {"every": 4, "factor": 6}})
    with vart_async.open(model, jobs=2) as s:
        r = s.run(iterations=12)  # no warm-up: run job k is the runner's job id k + 1
    assert r.completed == 12
    assert r.t_device_start is not None
    assert r.t_device_end is not None
    device = r.t_device_end - r.t_device_start
    straggler = (np.arange(12) + 1) % 4 == 0
    assert (device[straggler] >= 0.030 * 0.999).all(), device
    assert (device[~straggler] >= 0.005 * 0.999).all(), device
    assert device[straggler].min() > 3 * np.median(device[~straggler]), device
