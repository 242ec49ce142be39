"""Application APIs: stream(), submit(inputs, callback=...), asyncio. Outputs belong to their inputs."""

from __future__ import annotations

import asyncio
import threading
import time
import weakref

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
    with vart_async.open(descriptor(), jobs=2, input_tensor_type="CPU") as s:
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


def test_a_stream_cannot_be_stepped_while_it_steps(descriptor):
    """The stream releases the GIL while it waits, so a second caller could step it meanwhile: it is
    refused (as a generator refuses), here from the frame source itself, which runs inside __next__."""
    with vart_async.open(descriptor(), jobs=2) as s:
        frames = _frames(s, 8)

        def reentering(holder, call):
            yield frames[0]
            call(holder[0])  # the stream, from inside its own __next__
            yield frames[1]

        for call in (next, lambda stream: stream.close()):
            holder: list = []
            stream = s.stream(reentering(holder, call))
            holder.append(stream)
            with pytest.raises(RuntimeError, match="already in use"):
                list(stream)
            with pytest.raises(StopIteration):  # over after the error, as a generator would be
                stream.__next__()
        want = _expected(s, frames[0])
        explicit = s.stream(frames[:2])
        _assert_same(explicit.__next__(), want)  # the bound method, as for loops
        assert len(list(explicit)) == 1
        assert s.run(iterations=4).completed == 4


def test_closing_the_session_under_a_streaming_thread_is_refused(descriptor):
    """close() from another thread while a stream (or a low-level wait) runs without the GIL would
    free the slots under it: refused with a clear error, and the stream goes on to the end."""
    with vart_async.open(descriptor(service_time_us=200_000), jobs=2) as s:
        frames = _frames(s, 4)
        want = [_expected(s, f) for f in frames]
        got, started = [], threading.Event()

        def consume():
            for outs in s.stream(frames):
                started.set()
                got.append(outs)

        t = threading.Thread(target=consume)
        t.start()
        assert started.wait(5)
        with pytest.raises(RuntimeError, match="in use by another thread"):
            s.close()
        t.join()
        assert not s.closed
        for g, w in zip(got, want, strict=True):
            _assert_same(g, w)

        job = s.submit(0)
        waiter = threading.Thread(target=job.wait, kwargs={"timeout": 5})
        waiter.start()
        time.sleep(0.05)  # the waiter is inside its (single, 5 s) native wait for a 200 ms job
        with pytest.raises(RuntimeError, match="in use by another thread"):
            s.close()
        waiter.join()
    assert s.closed


@pytest.mark.parametrize("completion", ["poll", "callback"])
def test_callbacks_run_in_order_on_one_completion_thread(descriptor, completion):
    """In submission order when jobs are polled oldest first; with completion reports (the
    execute_async callback) in completion order: every job once, each with its own outputs."""
    with vart_async.open(descriptor(service_time_us=200), jobs=2, completion=completion) as s:
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
    if completion == "poll":
        assert [i for i, _ in seen] == list(range(12))
    assert sorted(i for i, _ in seen) == list(range(12))
    assert len(threads) == 1
    assert threading.get_ident() not in threads
    for i, got in seen:
        _assert_same(got, want[i])


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
    # Job 2 fails after 200 ms: all three are submitted before (a failure already delivered is
    # raised by the next submit, as a callback error is).
    faults = {"fail_jobs": [2], "stall_jobs": [2], "stall_ms": 200}
    with vart_async.open(descriptor(faults=faults), jobs=2) as s:
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


def test_stream_converts_frames_that_are_not_an_exact_match(descriptor):
    """Exact frames are copied natively; other dtypes, layouts and containers go through staging."""
    with vart_async.open(descriptor(service_time_us=100), jobs=2) as s:
        frames = _frames(s, 4)
        want = [_expected(s, f) for f in frames]
        variants = [
            [frames[0][0], frames[0][1].astype(np.float64)],  # converted (same kind)
            (np.asfortranarray(frames[1][0]), frames[1][1]),  # not C-contiguous, and a tuple
            [frames[2][0].reshape(-1), frames[2][1].reshape(-1)],  # same size, other shape
            {"b": frames[3][1], "a": frames[3][0]},  # by name
        ]
        for got, w in zip(s.stream(variants), want, strict=True):
            _assert_same(got, w)
        with pytest.raises(ValueError, match="cannot be cast"):
            list(s.stream([[frames[0][0].astype(np.float32), frames[0][1]]]))


def test_stream_stall_raises_wait_timeout_and_the_session_recovers(descriptor):
    model = descriptor(service_time_us=100, faults={"stall_jobs": [2], "stall_ms": 600})
    with vart_async.open(model, jobs=2) as s:
        t0 = time.monotonic()
        late = r"frame 1 \(slot 1\) did not finish within 150 ms"
        with pytest.raises(vart_async.WaitTimeoutError, match=late):
            list(s.stream(_frames(s, 10), wait_timeout=0.15))
        assert time.monotonic() - t0 < 0.55  # the timeout and the close, not the stall
        # The stalled slot is abandoned, not freed; the session goes on with the other one...
        assert s.run(iterations=3, wait_timeout=5).completed == 3
        time.sleep(0.6)  # ...and takes it back once the runtime is done with it.
        assert len(list(s.stream(_frames(s, 6)))) == 6
        assert s.run(iterations=4).max_in_flight == 2


def test_stream_reuses_only_outputs_nobody_holds(descriptor):
    """Output arrays the caller dropped are filled again; ones it kept (or kept a view of) never are."""
    with vart_async.open(descriptor(service_time_us=100), jobs=2) as s:
        frames = _frames(s, 40)
        want = [_expected(s, f) for f in frames]
        earlier: list[weakref.ref] = []
        reused = 0
        for outs, w in zip(s.stream(frames), want, strict=True):
            _assert_same(outs, w)  # checked when yielded, then dropped
            reused += any(r() is outs[0] for r in earlier)
            earlier.append(weakref.ref(outs[0]))
        assert reused > 0

        views = [outs[0][:, :4] for outs in s.stream(frames)]  # the arrays are dropped, views kept
        kept = list(s.stream(frames))  # everything kept
        for v, k, w in zip(views, kept, want, strict=True):
            np.testing.assert_array_equal(v, w[0][:, :4])
            _assert_same(k, w)


def test_a_frame_with_fewer_rows_than_the_batch_is_zero_filled(descriptor):
    """As the CLI does for a short IFM: the rows given, then zeros (stream, submit and a full frame
    padded by hand give the same outputs)."""
    with vart_async.open(descriptor(), jobs=2) as s:  # batch 2
        a = np.arange(8, dtype=np.uint8).reshape(1, 8)
        b = np.linspace(-1, 1, 4, dtype=np.float32).reshape(1, 4)
        full = [np.concatenate([a, np.zeros_like(a)]), np.concatenate([b, np.zeros_like(b)])]
        want = next(iter(s.stream([full])))
        streamed = next(iter(s.stream([[a, b]])))
        submitted = s.submit([a, b]).wait()
        for w, x, y in zip(want, streamed, submitted, strict=True):
            np.testing.assert_array_equal(w, x)
            np.testing.assert_array_equal(w, y)
        # A later full frame on the same slots is not mixed with the zero-filled rows.
        again = next(iter(s.stream([full])))
        for w, x in zip(want, again, strict=True):
            np.testing.assert_array_equal(w, x)
        with pytest.raises(ValueError, match="does not fit"):
            next(iter(s.stream([[np.zeros((3, 8), np.uint8), b]])))  # more rows than the batch


def test_infer_runs_one_job_and_returns_its_outputs(descriptor):
    with vart_async.open(descriptor(service_time_us=100), jobs=2) as s:
        frames = _frames(s, 3)
        for f in frames:
            got = s.infer(f)
            _assert_same(got, _expected(s, f))
        with pytest.raises(ValueError, match="does not fit"):
            s.infer([np.zeros((5, 8), np.uint8), np.zeros((2, 4), np.float32)])
