"""Session.stream() and completion order on OpenVINO, which reports finished requests: the paths the
VART engine (FIFO) does not take - collection as jobs finish, the stream's one-stretch turnaround,
and its fallbacks when a job is slow."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np
import pytest

# Checked without importing it (see test_openvino_engine.py).
if importlib.util.find_spec("openvino") is None:
    pytest.skip("OpenVINO is not installed: pip install 'vart-async[openvino]'", allow_module_level=True)
onnx = pytest.importorskip("onnx", reason="the slow model comes with onnx (the test extra)")

import vart_async  # noqa: E402

DEFAULT_MODEL = Path(vart_async.__file__).parent / "models" / "default_cnn.onnx"
# About 60 ms per job on 2 cores: slow enough for a wait timeout of a few ms to expire every time.
SLOW_MODEL = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / "light_resnet50.onnx"


def _frames(s: vart_async.Session, n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random(s.inputs[0].shape).astype(s.inputs[0].numpy_dtype) for _ in range(n)]


def _sync_outputs(s: vart_async.Session, frames: list[np.ndarray]) -> list[np.ndarray]:
    want = []
    for f in frames:
        s.slots[0].inputs[0][...] = f
        s.run(iterations=1, mode="sync")
        want.append(s.slots[0].outputs[0].copy())
    return want


def test_jobs_are_collected_as_they_finish_and_stream_keeps_frame_order() -> None:
    """Replay collects requests as they finish (in_order=True: FIFO), and stream() - which collects
    out of order too - still yields every frame's own outputs in order."""
    with vart_async.open(DEFAULT_MODEL, jobs=3, hint="none", streams=2, precision="f32") as s:
        assert s.run(iterations=30).collected == "completion"
        assert s.run(iterations=30, in_order=True).collected == "submission"
        frames = _frames(s, 60, seed=11)
        want = _sync_outputs(s, frames)
        got = list(s.stream(frames))
        assert len(got) == len(frames)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g[0], w)
        zero_copy = [outs[0].copy() for outs in s.stream(frames, copy=False)]  # views: copy to keep
        for g, w in zip(zero_copy, want, strict=True):
            np.testing.assert_array_equal(g, w)
        # Frames that are not an exact match go through the Python staging rule, interleaved with
        # exact ones (which take the turnaround without the GIL).
        mixed = [f if i % 3 else f.astype(np.float64) for i, f in enumerate(frames)]
        for g, w in zip(s.stream(mixed), want, strict=True):
            np.testing.assert_array_equal(g[0], w)


def test_stream_on_a_slow_model_times_out_then_recovers() -> None:
    if not SLOW_MODEL.exists():
        pytest.skip(f"this onnx wheel has no {SLOW_MODEL.name}")
    with vart_async.open(SLOW_MODEL, jobs=2, hint="none", streams=2, threads=2, precision="f32") as s:
        frames = _frames(s, 6, seed=3)
        want = _sync_outputs(s, frames[:4])
        t0 = time.monotonic()
        late = r"frame \d \(slot \d\) did not finish within 3 ms"
        with pytest.raises(vart_async.WaitTimeoutError, match=late):
            list(s.stream(frames, wait_timeout=0.003))
        assert time.monotonic() - t0 < 1.0  # the timeouts, not the jobs
        # Both jobs were left in flight (abandoned): the next stream takes their slots back once the
        # runtime is done with them (until then it has none: refused), and a report about them is
        # not mistaken for one of its own. The jobs take ~60 ms here, tens of seconds under
        # qemu-aarch64 (hence the long timeouts from here on).
        deadline = time.monotonic() + 600
        while True:
            try:
                got = list(s.stream(frames[:4], wait_timeout=600))
                break
            except ValueError as e:
                if "no idle slot" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g[0], w)
        while s.run(iterations=4, wait_timeout=600).max_in_flight < 2:  # both slots back, both jobs done
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_jobs_on_the_callers_arrays_copy_nothing() -> None:
    """copy=False on OpenVINO: ov::Tensor over the caller's memory, inputs and outputs."""
    with vart_async.open(DEFAULT_MODEL, jobs=2, hint="none", streams=2, precision="f32") as s:
        frames = _frames(s, 8, seed=3)
        want = _sync_outputs(s, frames)
        before = s.bytes_copied
        outs = [[np.empty_like(a) for a in s.slots[0].outputs] for _ in frames]
        jobs = [s.submit(f, copy=False, out=o) for f, o in zip(frames, outs, strict=True)]
        for job, o, w in zip(jobs, outs, want, strict=True):
            got = job.wait()
            assert np.shares_memory(got[0], o[0])
            np.testing.assert_array_equal(got[0], w)
        streamed = [out[0].copy() for out in s.stream(frames, copy=False)]
        for g, w in zip(streamed, want, strict=True):
            np.testing.assert_array_equal(g, w)
        assert s.bytes_copied == before
        # The slots' own tensors are back for what follows.
        assert s.run(iterations=6).completed == 6
        np.testing.assert_array_equal(_sync_outputs(s, frames[:1])[0], want[0])
