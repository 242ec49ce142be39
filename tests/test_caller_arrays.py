"""Jobs on the caller's own arrays (copy=False): nothing copied, the arrays kept alive by the job,
refused with clear errors where the runtime cannot use them (HW-typed VART tensors) or the arrays
are not exactly what a slot buffer holds.
"""

from __future__ import annotations

import gc
import threading
import weakref
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import vart_async

RESNET = Path(str(resources.files("vart_async") / "models" / "resnet50_int8.emu.json"))
CPU = {"input_tensor_type": "CPU", "output_tensor_type": "CPU"}


def _frames(s: vart_async.Session, n: int, seed: int = 0) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        frame = []
        for a in s.slots[0].inputs:
            if a.dtype.kind == "f":
                frame.append(rng.uniform(-1, 1, a.shape).astype(a.dtype))
            else:
                info = np.iinfo(a.dtype)
                frame.append(rng.integers(info.min, info.max, a.shape, dtype=a.dtype, endpoint=True))
        out.append(frame)
    return out


def _same(got, want) -> None:
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_submit_writes_into_the_callers_out_arrays_and_copies_nothing():
    with vart_async.open(RESNET, jobs=2, **CPU) as s:
        frames = _frames(s, 4)
        want = [s.infer(f) for f in frames]
        before = s.bytes_copied
        assert before.inputs > 0  # copy=True copies (and says so)
        assert before.outputs > 0
        outs = [[np.empty_like(a) for a in s.slots[0].outputs] for _ in frames]
        jobs = [s.submit(f, copy=False, out=o) for f, o in zip(frames, outs, strict=True)]
        for job, o, w in zip(jobs, outs, want, strict=True):
            got = job.wait()
            assert all(np.shares_memory(g, a) for g, a in zip(got, o, strict=True))
            _same(got, w)
        assert s.bytes_copied == before


def test_infer_without_out_gives_new_arrays_written_in_place():
    with vart_async.open(RESNET, jobs=2, **CPU) as s:
        frame = _frames(s, 1)[0]
        want = s.infer(frame)
        before = s.bytes_copied
        got = s.infer(frame, copy=False)
        _same(got, want)
        assert not any(np.shares_memory(g, so) for g, so in zip(got, s.slots[0].outputs, strict=True))
        assert s.bytes_copied == before


def test_out_by_name_and_the_callback_path():
    with vart_async.open(RESNET, jobs=2, **CPU) as s:
        frame = _frames(s, 1)[0]
        want = s.infer(frame)
        out = {"output": np.zeros_like(s.slots[0].outputs[0])}
        seen = []
        s.submit(
            {"input": frame[0]},
            copy=False,
            out=out,
            callback=lambda o, job: seen.append((o, job.userdata)),
            userdata="mine",
        )
        s.wait_all()
        (o, userdata), = seen
        assert userdata == "mine"
        assert np.shares_memory(o["output"], out["output"])
        _same(o, want)


def test_stream_reads_the_frames_in_place():
    with vart_async.open(RESNET, jobs=3, input_tensor_type="CPU") as s:
        frames = _frames(s, 12)
        want = [[a.copy() for a in out] for out in s.stream(frames)]
        before = s.bytes_copied
        got = [[a.copy() for a in out] for out in s.stream(frames, copy=False)]
        for g, w in zip(got, want, strict=True):
            _same(g, w)
        assert s.bytes_copied == before  # inputs read in place, outputs lent (the slot's own)


def test_stream_with_bindable_outputs_yields_arrays_of_each_jobs_own():
    """CPU-typed outputs too: each job writes into new arrays, which stay valid (no slot is lent,
    so jobs are collected as they finish and every slot stays in flight)."""
    with vart_async.open(RESNET, jobs=3, **CPU) as s:
        frames = _frames(s, 12)
        want = [[a.copy() for a in out] for out in s.stream(frames)]
        before = s.bytes_copied
        got = list(s.stream(frames, copy=False))  # kept as they are: no copy needed
        for g, w in zip(got, want, strict=True):
            _same(g, w)
            assert not any(np.shares_memory(a, o) for a in g for slot in s.slots for o in slot.outputs)
        assert s.bytes_copied == before


def test_the_job_keeps_the_arrays_alive_after_the_caller_drops_them(descriptor):
    model = descriptor(service_time_us=200_000, compute_units=1)
    with vart_async.open(model, jobs=2, **CPU) as s:
        frame = _frames(s, 1)[0]
        want = s.infer(frame)
        x = [a.copy() for a in frame]
        out = [np.empty_like(a) for a in s.slots[0].outputs]
        refs = [weakref.ref(a) for a in x + out]
        job = s.submit(x, copy=False, out=out)
        del x, out
        gc.collect()
        assert all(r() is not None for r in refs)  # the job holds them
        got = job.wait()
        _same(got, want)


def test_frames_dropped_by_a_stream_stay_alive_while_their_jobs_run(descriptor):
    model = descriptor(service_time_us=50_000)
    with vart_async.open(model, jobs=2, input_tensor_type="CPU") as s:
        frames = _frames(s, 6)
        want = [[a.copy() for a in out] for out in s.stream(frames)]
        refs = []

        def source():
            for f in frames:
                g = [a.copy() for a in f]
                refs.extend(weakref.ref(a) for a in g)
                yield g  # the stream's reference is the only one

        for out, w in zip(s.stream(source(), copy=False), want, strict=True):
            gc.collect()
            _same(out, w)


def test_hw_typed_tensors_are_refused_with_what_to_do():
    with vart_async.open(RESNET, jobs=2) as s:
        frame = [np.zeros(a.shape, a.dtype) for a in s.slots[0].inputs]
        with pytest.raises(ValueError, match=r"input 'input' is HW-typed.*input_tensor_type='CPU'"):
            s.submit(frame, copy=False)
        with pytest.raises(ValueError, match="HW-typed"):
            s.stream([frame], copy=False)
        with pytest.raises(ValueError, match="HW-typed"):
            s.infer(frame, copy=False)
    with vart_async.open(RESNET, jobs=2, input_tensor_type="CPU") as s:  # the output is still HW-typed
        frame = [np.zeros(a.shape, a.dtype) for a in s.slots[0].inputs]
        with pytest.raises(ValueError, match="output 'output' is HW-typed"):
            s.submit(frame, copy=False)
        assert len(list(s.stream([frame], copy=False))) == 1  # stream lends the slot's outputs: fine


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda a: a.astype(np.float64), "dtype float64, not float32"),
        (lambda a: np.zeros((1, 3, 224, 448), a.dtype)[..., ::2], "not C-contiguous"),
        (lambda a: a.reshape(-1)[:-1], "shape"),
        (lambda a: np.frombuffer(b"\0" + a.tobytes(), np.uint8)[1:].view(np.float32).reshape(a.shape),
         "not aligned"),
        (lambda a: [a, a], "the model has 1 inputs"),
        (lambda a: a.tolist(), "needs a numpy array"),
    ],
)
def test_inputs_that_are_not_exactly_a_slot_buffer_are_refused(make, match):
    with vart_async.open(RESNET, jobs=2, **CPU) as s:
        a = np.zeros(s.slots[0].inputs[0].shape, np.float32)
        bad = make(a)
        with pytest.raises(ValueError, match=match):
            s.submit(bad, copy=False)
        with pytest.raises(ValueError, match=match):
            list(s.stream([bad], copy=False))
        assert len(s.infer(a, copy=False)) == 1  # the session is still fine


def test_out_arrays_are_checked():
    with vart_async.open(RESNET, jobs=2, **CPU) as s:
        x = np.zeros(s.slots[0].inputs[0].shape, np.float32)
        o = np.zeros(s.slots[0].outputs[0].shape, np.float32)
        ro = o.copy()
        ro.flags.writeable = False
        for bad, match in [
            ([ro], "read-only"),
            ([o.astype(np.float16)], "dtype float16"),
            ([o, o], "the model has 1 inputs|one array per"),
            ({"logits": o}, "missing"),
        ]:
            with pytest.raises(ValueError, match=match):
                s.submit(x, copy=False, out=bad)
        with pytest.raises(ValueError, match="out= goes with copy=False"):
            s.submit(x, out=[o])
        with pytest.raises(ValueError, match="copy=False goes with submit\\(inputs\\)"):
            s.submit(0, copy=False)


def test_more_frames_than_slots_wait_in_the_backlog_uncopied(descriptor):
    model = descriptor(service_time_us=2000)
    with vart_async.open(model, jobs=2, **CPU) as s:
        frames = _frames(s, 40)
        want = [s.infer(f) for f in frames]
        before = s.bytes_copied
        jobs = [s.submit(f, copy=False) for f in frames]  # 2 slots + a backlog of 2: submit() waits for room
        for job, w in zip(jobs, want, strict=True):
            _same(job.wait(), w)
        assert s.bytes_copied == before


def test_two_threads_submit_on_their_own_arrays(descriptor):
    model = descriptor(service_time_us=500)
    with vart_async.open(model, jobs=3, **CPU) as s:
        frames = _frames(s, 30, seed=1)
        want = [s.infer(f) for f in frames]
        results: dict[int, list[np.ndarray]] = {}
        errors: list[BaseException] = []

        def worker(first: int) -> None:
            try:
                mine = range(first, len(frames), 2)
                outs = {i: [np.empty_like(a) for a in s.slots[0].outputs] for i in mine}
                jobs = {i: s.submit(frames[i], copy=False, out=outs[i]) for i in mine}
                for i, job in jobs.items():
                    results[i] = job.wait()
            except BaseException as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(t,)) for t in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        for i, w in enumerate(want):
            _same(results[i], w)


def test_a_job_that_never_finishes_keeps_the_arrays_and_the_session_closes(descriptor):
    model = descriptor(faults={"stall_jobs": [1], "stall_ms": 3000})
    s = vart_async.open(model, jobs=2, **CPU)
    x = [np.zeros(a.shape, a.dtype) for a in s.slots[0].inputs]
    out = [np.empty_like(a) for a in s.slots[0].outputs]
    refs = [weakref.ref(a) for a in x + out]
    s.submit(x, copy=False, out=out)
    del x, out
    with pytest.raises(vart_async.RunError, match="closed before the job finished"):
        s.close()  # gives up on the stalled job after its bound: its slot (and the arrays) are kept
    gc.collect()
    assert all(r() is not None for r in refs)


def test_slots_used_on_callers_arrays_run_their_own_buffers_again():
    with vart_async.open(RESNET, jobs=2, **CPU) as s:
        frames = _frames(s, 4)
        for f in frames:
            s.infer(f, copy=False)
        s.fill_random(3)
        for slot in s.slots:
            for o in slot.outputs:
                o.fill(0)
        s.run(iterations=4)  # replays the slots' own inputs into their own outputs
        for slot in s.slots:
            _same(slot.outputs, s.infer([a.copy() for a in slot.inputs]))


def test_run_reports_the_bytes_it_copied():
    with vart_async.open(RESNET, jobs=2, **CPU) as s:
        replay = s.run(iterations=6)
        assert (replay.bytes_copied_in, replay.bytes_copied_out) == (0, 0)
        frames = _frames(s, 3)
        fed = s.run(iterations=6, frames=frames)
        assert fed.bytes_copied_in == 6 * s.inputs[0].nbytes
        assert fed.bytes_copied_out == 0
