"""Completion by callback on the VART engine (the execute_async callback overload) against polling.

With completion="callback" the runtime's callback reports each finished job to the job window and
jobs are collected as they finish; with "poll" the engine waits for the oldest job (FIFO, as
vart_infer_async). Both must account for every job, fail, time out and cancel alike.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import vart_async
from _cli_helpers import run  # tests/ is on pythonpath

OUT_OF_ORDER = {
    "compute_units": 2,
    "execution_slots": 4,
    "service_time_us": 3000,
    "faults": {"out_of_order": True},
}


def _overtaken(r: vart_async.RunResult) -> bool:
    """Whether some job was seen done before a job submitted earlier."""
    return bool((r.t_done[1:] < r.t_done[:-1]).any())


def _accounted(r: vart_async.RunResult) -> None:
    assert r.submitted == r.completed + r.failed + r.cancelled


def _completion(s: vart_async.Session) -> str:
    return dict(s.info["properties"])["completion"]


def test_callback_collects_out_of_order_jobs_as_they_finish(descriptor):
    model = descriptor(**OUT_OF_ORDER)
    with vart_async.open(model, jobs=4, completion="callback") as s:
        assert _completion(s) == "callback"
        r = s.run(iterations=40)
        assert r.completed == 40
        assert r.collected == "completion"
        assert _overtaken(r)
        # in_order=True still waits for the oldest job first.
        fifo = s.run(iterations=20, in_order=True)
        assert fifo.collected == "submission"
        assert not _overtaken(fifo)


def test_poll_collects_in_submission_order(descriptor):
    with vart_async.open(descriptor(**OUT_OF_ORDER), jobs=4, completion="poll") as s:
        assert _completion(s) == "poll"
        r = s.run(iterations=20)
    assert r.completed == 20
    assert r.collected == "submission"
    assert not _overtaken(r)


def test_the_default_is_the_measured_one(descriptor):
    with vart_async.open(descriptor(service_time_us=100)) as s:
        assert _completion(s) == vart_async._registry.VART_DEFAULT_COMPLETION == "callback"
        assert s.run(iterations=10).collected == "completion"


@pytest.mark.parametrize("bad", ["Callback", "interrupt", "", 1])
def test_a_bad_completion_is_a_value_error_naming_it(descriptor, bad):
    with pytest.raises(ValueError, match="completion must be 'poll' or 'callback'"):
        vart_async.open(descriptor(), completion=bad)


@pytest.mark.parametrize("completion", ["poll", "callback"])
def test_outputs_belong_to_their_frames_either_way(descriptor, completion):
    model = descriptor(**{**OUT_OF_ORDER, "service_time_us": 500})
    rng = np.random.default_rng(7)
    frames = [
        [rng.integers(0, 255, (2, 8), dtype=np.uint8), rng.standard_normal((2, 4)).astype(np.float32)]
        for _ in range(24)
    ]
    with vart_async.open(model, jobs=4, completion="poll") as ref:
        expected = list(ref.stream(frames))  # copies (copy=True), oldest first
    with vart_async.open(model, jobs=4, completion=completion) as s:
        got = list(s.stream(frames))
        done: list[tuple[int, list[np.ndarray]]] = []
        jobs = [
            s.submit(f, callback=lambda outs, job, i=i: done.append((i, outs))) for i, f in enumerate(frames)
        ]
        s.wait_all()
    assert len(got) == len(frames)
    for g, e in zip(got, expected, strict=True):
        for a, b in zip(g, e, strict=True):
            np.testing.assert_array_equal(a, b)
    assert sorted(i for i, _ in done) == list(range(len(frames)))
    for i, outs in done:
        for a, b in zip(outs, expected[i], strict=True):
            np.testing.assert_array_equal(a, b)
    assert len(jobs) == len(frames)


def test_a_failed_job_raises_with_its_status(descriptor):
    model = descriptor(service_time_us=200, faults={"fail_jobs": [4]})
    with vart_async.open(model, jobs=2, completion="callback") as s:
        with pytest.raises(vart_async.JobFailedError, match="callback reported RUNTIME_ERROR") as info:
            s.run(iterations=50)
        r = info.value.result
        assert r.failed == 1
        assert r.submitted < 50
        _accounted(r)
        assert s.run(iterations=5).completed == 5  # still usable


def test_a_stall_past_the_wait_timeout(descriptor):
    model = descriptor(service_time_us=100, faults={"stall_jobs": [3], "stall_ms": 3000})
    with vart_async.open(model, jobs=2, completion="callback") as s:
        t0 = time.monotonic()
        with pytest.raises(vart_async.WaitTimeoutError, match="did not finish within 200 ms") as info:
            s.run(iterations=20, wait_timeout=0.2)
        assert time.monotonic() - t0 < 2.0  # well before the stalled job ends
        _accounted(info.value.result)
        assert s.run(iterations=4, wait_timeout=5).completed == 4  # on the other slot


def test_cancel_from_another_thread_drains(descriptor):
    with vart_async.open(descriptor(service_time_us=2000), jobs=2, completion="callback") as s:
        timer = threading.Timer(0.2, s.cancel)
        timer.start()
        t0 = time.monotonic()
        r = s.run(time_limit=30)
        timer.join()
    assert time.monotonic() - t0 < 5
    assert r.reason == "cancelled"
    assert r.completed > 0
    assert r.cancelled == 0  # one cancel drains: every job in flight completed
    _accounted(r)


def test_close_with_stalled_callback_jobs_in_flight_is_bounded(descriptor):
    model = descriptor(service_time_us=100, faults={"stall_jobs": [1, 2], "stall_ms": 3000})
    s = vart_async.open(model, jobs=2, completion="callback")
    s.submit(0)
    s.submit(1)
    t0 = time.monotonic()
    s.close()  # gives up after its bound; the slots are kept while the runtime may write them
    assert time.monotonic() - t0 < 2.8


def test_cli_completion_flag(capsys, tiny):
    code, out, err = run(capsys, tiny, "-d", "--completion", "callback", "-n", "20", "--json", "r.json")
    assert code == 0, err
    assert "collected as each job finished" in out
    settings = "input_tensor_type=HW, output_tensor_type=HW, completion=callback"
    assert f"Runtime settings   : {settings}" in out  # the summary says which completion ran
    assert json.loads(Path("r.json").read_text())["properties"]["completion"] == "callback"
    code, out, err = run(capsys, tiny, "-d", "--completion", "poll", "-n", "20")
    assert code == 0, err
    assert "collected as each job finished" not in out
    assert "completion=poll" in out
    code, _, err = run(capsys, tiny, "-d", "--completion", "sometimes")
    assert code != 0
    assert "--completion: invalid choice: 'sometimes' (choose from 'poll', 'callback')" in err
