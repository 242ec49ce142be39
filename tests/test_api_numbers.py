"""Absurd numbers in the API: a limit past the clock's range means no limit (never a wrong result),
and anything that is not a number of the right kind is a ValueError naming the argument."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

import vart_async


@pytest.mark.parametrize("limit", [math.inf, 1e10, 9.3e9, 1e300])
def test_a_time_limit_past_the_clock_runs_until_cancelled(descriptor, limit):
    with vart_async.open(descriptor(service_time_us=200), jobs=2) as s:
        threading.Timer(0.3, s.cancel).start()
        r = s.run(time_limit=limit, wait_timeout=math.inf)
        assert r.reason == "cancelled"
        assert r.completed > 0  # it ran (the int64 clock used to overflow: 0 jobs, "ok")


def test_huge_wait_timeouts_wait_normally(descriptor):
    with vart_async.open(descriptor(service_time_us=200), jobs=2) as s:
        frames = [np.zeros(spec.shape, spec.numpy_dtype) for spec in s.inputs]
        assert len(list(s.stream([frames] * 5, wait_timeout=1e10))) == 5
        assert len(list(s.stream([frames] * 5, wait_timeout=math.inf))) == 5
        s.submit(0, busy_timeout=math.inf).wait(math.inf)
        s.submit(frames, callback=lambda o, j: None, busy_timeout=1e300)
        s.wait_all()


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda s: s.run(iterations=2**64), "iterations"),
        (lambda s: s.run(iterations=10, wait_timeout=math.nan), "wait_timeout"),
        (lambda s: s.run(time_limit=-1), "time_limit"),
        (lambda s: s.run(iterations=10, warmup=2**64), "warmup"),
        (lambda s: s.submit(0).wait(math.nan), "timeout"),
        (lambda s: s.submit(0, busy_timeout=math.nan), "busy_timeout"),
        (lambda s: s.stream([], wait_timeout=0), "wait_timeout"),
    ],
)
def test_bad_numbers_are_value_errors_naming_the_argument(descriptor, call, name):
    with vart_async.open(descriptor(), jobs=2) as s, pytest.raises(ValueError, match=name):
        call(s)


@pytest.mark.parametrize("jobs", [0, 2**64, 10**10, 4097, True, 2.0])
def test_bad_jobs_is_a_value_error(descriptor, jobs):
    with pytest.raises(ValueError, match="jobs"):
        vart_async.open(descriptor(), jobs=jobs)


def test_slot_memory_is_bounded_before_anything_is_allocated(descriptor):
    with pytest.raises(ValueError, match="max_slot_bytes"):
        vart_async.open(descriptor(), jobs=64, max_slot_bytes=1000)
