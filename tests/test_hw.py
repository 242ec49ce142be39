"""On a real Versal AI Edge Gen 2 board only (marked `hw`; left out everywhere else).

    VART_ASYNC_HW_MODEL=/path/model.rai python3 -m pytest -m hw

What a board must show that the emulator cannot (docs/board.md, section 5): the real runtime is
behind the engine, real device buffers are the slot arrays, jobs overlap on the NPU, outputs are
deterministic and belong to their inputs, and the CLI runs end to end without saying EMULATED.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import vart_async

pytestmark = pytest.mark.hw


@pytest.fixture(scope="module")
def model() -> Path:
    path = os.environ.get("VART_ASYNC_HW_MODEL")
    if not path:
        pytest.fail("set VART_ASYNC_HW_MODEL to a compiled model (.rai file or cache directory) on the board")
    return Path(path)


def _random_inputs(s: vart_async.Session, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    slot = s.slots[0]
    raw = [rng.integers(0, 256, a.nbytes, dtype=np.uint8) for a in slot.inputs]
    return [r.view(a.dtype).reshape(a.shape) for r, a in zip(raw, slot.inputs, strict=True)]


def test_the_real_runtime_is_behind_the_engine(model: Path) -> None:
    status = vart_async.available_engines()["vart"]
    assert status.available, status
    assert not status.emulated, status
    with vart_async.open(model, engine="vart", jobs=2) as s:
        assert not s.emulated
        assert "emulator" not in s.runtime.lower()


def test_slot_arrays_are_device_buffers_and_zero_copy(model: Path) -> None:
    with vart_async.open(model, engine="vart", jobs=2) as s:
        for slot in s.slots:
            for a in (*slot.inputs, *slot.outputs):
                assert a.flags.c_contiguous
                assert a.nbytes > 0
        a, b = s.slots[0].inputs[0], s.slots[1].inputs[0]
        assert not np.shares_memory(a, b)  # every slot has buffers of its own


def test_jobs_overlap_and_async_beats_sync(model: Path) -> None:
    with vart_async.open(model, engine="vart", jobs=2) as s:
        for slot in s.slots:
            for arr, x in zip(slot.inputs, _random_inputs(s, 1), strict=True):
                arr[...] = x
        sync = s.run(iterations=200, mode="sync", warmup=2)
        both = s.run(iterations=200, warmup=2)
    assert both.completed == sync.completed == 200
    assert both.max_in_flight == 2
    assert both.fps > sync.fps  # two jobs in flight on the NPU finish sooner than one at a time


def test_outputs_are_deterministic_and_belong_to_their_inputs(model: Path) -> None:
    with vart_async.open(model, engine="vart", jobs=2) as s:
        frames = [_random_inputs(s, seed) for seed in range(8)]
        want = []
        for frame in frames:
            for arr, x in zip(s.slots[0].inputs, frame, strict=True):
                arr[...] = x
            s.run(iterations=1, mode="sync")
            want.append([o.copy() for o in s.slots[0].outputs])
        assert any(not np.array_equal(want[0][0], w[0]) for w in want[1:])  # different inputs matter
        for got, w in zip(s.stream(frames), want, strict=True):
            for g, x in zip(got, w, strict=True):
                np.testing.assert_array_equal(g, x)


def test_more_jobs_than_the_runtime_takes_are_retried_not_failed(model: Path) -> None:
    with vart_async.open(model, engine="vart", jobs=8) as s:
        r = s.run(iterations=400)
    assert r.completed == 400
    assert r.failed == 0


def test_cli_runs_on_the_board(model: Path, tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "vart_async.cli", "--model-path", str(model), "-d", "-n", "100",
         "--benchmark"],
        capture_output=True, text=True, cwd=tmp_path, check=False, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "EMULATED" not in out.stdout
    assert "Speed-up" in out.stdout


def test_callback_completion_frees_the_runtime_without_wait(model: Path) -> None:
    """Many more callback jobs than the runtime has execution slots: if the runtime kept a callback
    job's slot until wait() (AMD's Gen 1 runtime keeps its record), this ends in busy_timeout."""
    with vart_async.open(model, engine="vart", jobs=4, completion="callback") as s:
        r = s.run(iterations=2000, wait_timeout=10)
    assert r.completed == 2000
    assert r.collected == "completion"


def test_callback_completion_matches_polling(model: Path) -> None:
    """Same frames, same outputs, both ways; and how much the callback buys on this model."""
    with vart_async.open(model, engine="vart", jobs=2, completion="poll") as s:
        frames = [_random_inputs(s, seed) for seed in range(8)]
        want = [[o.copy() for o in out] for out in s.stream(frames)]
        poll = s.run(iterations=300, warmup=4)
    with vart_async.open(model, engine="vart", jobs=2, completion="callback") as s:
        for got, w in zip(s.stream(frames), want, strict=True):
            for g, x in zip(got, w, strict=True):
                np.testing.assert_array_equal(g, x)
        cb = s.run(iterations=300, warmup=4)
    print(f"callback {cb.fps:.1f} FPS / poll {poll.fps:.1f} FPS = {cb.fps / poll.fps:.3f}")
    assert cb.fps >= 0.9 * poll.fps


def test_cpu_typed_tensors_match_our_quantize_and_dequantize(model: Path) -> None:
    """The runtime's own CPU<->HW conversion against Session.quantize/dequantize (docs/board.md):
    the same float frame through CPU-typed tensors and, quantized by us, through HW-typed ones."""
    with vart_async.open(model, engine="vart", jobs=1) as hw:
        spec = hw.inputs[0]
        if len(hw.inputs) != 1 or len(hw.outputs) != 1:
            pytest.skip("needs a model with one input and one output")
        if spec.quant is None or spec.cpu is None or hw.outputs[0].quant is None:
            pytest.skip("the model's input/output have no quantization parameters")
        frame = np.random.default_rng(0).uniform(-1, 1, spec.cpu.shape).astype(np.float32)
        ours = hw.dequantize(0, next(iter(hw.stream([hw.quantize(0, frame)])))[0])
    types = {"input_tensor_type": "CPU", "output_tensor_type": "CPU"}
    with vart_async.open(model, engine="vart", jobs=1, **types) as cpu:
        theirs = next(iter(cpu.stream([frame])))[0]
    np.testing.assert_allclose(theirs, ours, atol=hw.outputs[0].quant.scale)


def test_cpu_typed_jobs_on_the_callers_arrays(model: Path) -> None:
    """copy=False on the real runtime (docs/board.md): USER_POINTER_NON_CMA NpuTensors over numpy
    memory for CPU-typed tensors, outputs written there, the same outputs as the slot buffers."""
    types = {"input_tensor_type": "CPU", "output_tensor_type": "CPU"}
    with vart_async.open(model, engine="vart", jobs=2, **types) as s:
        rng = np.random.default_rng(1)
        frames = [[rng.uniform(-1, 1, a.shape).astype(a.dtype) for a in s.slots[0].inputs] for _ in range(8)]
        want = [s.infer(f) for f in frames]
        before = s.bytes_copied
        for f, w in zip(frames, want, strict=True):
            out = [np.empty_like(a) for a in s.slots[0].outputs]
            got = s.submit(f, copy=False, out=out).wait()
            for g, o, x in zip(got, out, w, strict=True):
                assert np.shares_memory(g, o)
                np.testing.assert_array_equal(g, x)
        assert s.bytes_copied == before
