"""Application APIs: stream(), submit(inputs, callback=...), asyncio. Outputs belong to their inputs."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

import vart_async


def _frames(session, n, seed=0):
    rng = np.random.default_rng(seed)
    return [
        [
            rng.integers(0, 256, spec.shape, dtype=np.uint8).view(spec.numpy_dtype).reshape(spec.shape)
            if spec.numpy_dtype.itemsize == 1
            else rng.random(spec.shape).astype(spec.numpy_dtype)
            for spec in session.inputs
        ]
        for _ in range(n)
    ]


def _expected(session, frame):
    """The outputs of one frame, computed by a plain sync run on slot 0."""
    for arr, value in zip(session.slots[0].inputs, frame, strict=True):
        arr[...] = value
    session.run(iterations=1, mode="sync")
    return [o.copy() for o in session.slots[0].outputs]


def _assert_same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_stream_yields_each_frames_outputs_in_order(descriptor):
    with vart_async.open(descriptor(service_time_us=300), jobs=3) as s:
        frames = _frames(s, 20)
        want = [_expected(s, f) for f in frames]
        got = list(s.stream(frames))
    assert len(got) == 20
    for g, w in zip(got, want, strict=True):
        _assert_same(g, w)


def test_stream_zero_copy_views_are_the_slot_buffers(descriptor):
    with vart_async.open(descriptor(), jobs=2) as s:
        frames = _frames(s, 6)
        for i, outs in enumerate(s.stream(frames, copy=False)):
            slot = s.slots[i % 2]
            assert all(np.shares_memory(o, so) for o, so in zip(outs, slot.outputs, strict=True))


def test_stream_accepts_dicts_and_checks_shapes(descriptor):
    with vart_async.open(descriptor(), jobs=2) as s:
        a, b = _frames(s, 1)[0]
        out = next(s.stream([{"a": a, "b": b}]))
        _assert_same(out, _expected(s, [a, b]))
        with pytest.raises(ValueError, match="shape"):
            list(s.stream([[a[:, :3], b]]))
        with pytest.raises(ValueError, match="missing"):
            list(s.stream([{"a": a}]))


def test_abandoned_stream_drains_and_session_stays_usable(descriptor):
    with vart_async.open(descriptor(service_time_us=1000), jobs=2) as s:
        gen = s.stream(_frames(s, 50))
        next(gen)
        gen.close()  # jobs still in flight are waited for
        assert s.run(iterations=4).completed == 4


def test_callbacks_run_in_order_on_one_completion_thread(descriptor):
    with vart_async.open(descriptor(service_time_us=200), jobs=2) as s:
        frames = _frames(s, 12)
        want = [_expected(s, f) for f in frames]
        seen, threads = [], set()

        def make(i):
            def cb(outputs, job):
                threads.add(threading.get_ident())
                seen.append((i, [o.copy() for o in outputs]))

            return cb

        for i, f in enumerate(frames):
            s.submit(f, callback=make(i))
        s.wait_all()
    assert [i for i, _ in seen] == list(range(12))
    assert len(threads) == 1
    assert threading.get_ident() not in threads
    for (_, got), w in zip(seen, want, strict=True):
        _assert_same(got, w)


def test_job_without_callback_returns_a_copy(descriptor):
    with vart_async.open(descriptor(), jobs=2) as s:
        frame = _frames(s, 1)[0]
        want = _expected(s, frame)
        job = s.submit(frame)
        _assert_same(job.wait(timeout=10), want)


def test_callback_exception_is_raised_once_with_its_type(descriptor):
    class Boom(Exception):
        pass

    def bad(outputs, job):
        raise Boom("from the callback")

    with vart_async.open(descriptor(), jobs=2) as s:
        frames = _frames(s, 3)
        s.submit(frames[0], callback=bad)
        with pytest.raises(Boom, match="from the callback"):
            s.wait_all()
        s.wait_all()  # cleared: raised once only
        s.submit(frames[1], callback=lambda o, j: None)
        s.wait_all()


def test_failed_queued_job_is_reported(descriptor):
    with vart_async.open(descriptor(faults={"fail_jobs": [2]}), jobs=2) as s:
        frames = _frames(s, 3)
        jobs = [s.submit(f) for f in frames]
        with pytest.raises(vart_async.JobFailedError):
            jobs[1].wait(timeout=10)
        assert jobs[2].wait(timeout=10) is not None
        with pytest.raises(vart_async.JobFailedError):
            s.wait_all()


def test_asyncio_infer(descriptor):
    with vart_async.open(descriptor(service_time_us=500), jobs=2) as s:
        frames = _frames(s, 10)
        want = [_expected(s, f) for f in frames]

        async def main():
            return await asyncio.gather(*(s.infer_async(f) for f in frames))

        got = asyncio.run(main())
    for g, w in zip(got, want, strict=True):
        _assert_same(g, w)
