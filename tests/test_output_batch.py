"""Models whose output batch differs from their input batch (VART get_batch_size(OUTPUT) != INPUT).

The emulator computes output row r of a job from input row floor(r x in_rows / out_rows)
(docs/emulator.md, "Output function"); tests/emu_reference.py recomputes it, so every path
(run, stream, submit, infer, the CLI's OFMs) is checked against the reference bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vart_async
from _cli_helpers import BPR, ifm_file, run  # tests/ is on pythonpath
from emu_reference import batch_outputs

OUTS = [("INT8", 16), ("FLOAT32", 3)]  # the tiny descriptor's outputs y, z (elements per row)


def _model(descriptor: Any, batch: int, out_batch: int, **changes: Any) -> str:
    name = f"b{batch}to{out_batch}.json"
    return str(descriptor(name, batch_size=batch, output_batch_size=out_batch, **changes))


def _frame(batch: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        rng.integers(0, 256, (batch, 8), dtype=np.uint8),
        rng.standard_normal((batch, 4)).astype(np.float32),
    ]


def _expected(frame: list[np.ndarray], out_rows: int) -> list[np.ndarray]:
    """The reference outputs y (out_rows, 16) int8 and z (out_rows, 3) float32 of one job."""
    rows = [[frame[0][b], frame[1][b]] for b in range(len(frame[0]))]
    produced = batch_outputs(rows, OUTS, out_rows)
    return [np.stack([r[t] for r in produced]) for t in range(len(OUTS))]


def _assert_outputs(outputs: Any, frame: list[np.ndarray], out_rows: int) -> None:
    expected = _expected(frame, out_rows)
    assert [o.shape for o in outputs] == [(out_rows, 16), (out_rows, 3)]
    for got, want in zip(outputs, expected, strict=True):
        np.testing.assert_array_equal(np.asarray(got).view(want.dtype), want)


CASES = [(4, 1), (2, 4)]


@pytest.mark.parametrize(("batch", "out_batch"), CASES)
def test_session_reports_both_batches(descriptor, batch, out_batch):
    with vart_async.open(_model(descriptor, batch, out_batch), jobs=2) as s:
        assert (s.batch_size, s.output_batch_size) == (batch, out_batch)
        assert s.info["output_batch_size"] == out_batch
        assert [t.shape for t in s.inputs] == [(batch, 8), (batch, 4)]
        assert [t.shape for t in s.outputs] == [(out_batch, 16), (out_batch, 3)]
        assert [t.nbytes for t in s.outputs] == [16 * out_batch, 12 * out_batch]
        assert [t.row_nbytes for t in s.outputs] == [16, 12]
        assert [a.shape for a in s.slots[1].outputs] == [(out_batch, 16), (out_batch, 3)]
        assert f"batch={batch}->{out_batch}" in repr(s)


def test_equal_batches_keep_output_batch_equal(tiny):
    with vart_async.open(tiny) as s:
        assert s.output_batch_size == s.batch_size == 2
        assert "batch=2>" in repr(s)


@pytest.mark.parametrize(("batch", "out_batch"), CASES)
def test_run_writes_the_reference_outputs(descriptor, batch, out_batch):
    with vart_async.open(_model(descriptor, batch, out_batch), jobs=2) as s:
        frame = _frame(batch, 1)
        for k in range(s.jobs):
            s.slots[k].inputs[0][...] = frame[0]
            s.slots[k].inputs[1][...] = frame[1]
        r = s.run(iterations=6)
        assert r.ok
        assert r.frames == 6 * batch  # frames are input rows
        for k in range(s.jobs):
            _assert_outputs(s.slots[k].outputs, frame, out_batch)


@pytest.mark.parametrize(("batch", "out_batch"), CASES)
def test_stream_submit_and_infer(descriptor, batch, out_batch):
    with vart_async.open(_model(descriptor, batch, out_batch), jobs=2) as s:
        frames = [_frame(batch, seed) for seed in range(5)]
        for outputs, frame in zip(s.stream(frames), frames, strict=True):
            _assert_outputs(outputs, frame, out_batch)
        got: dict[int, Any] = {}
        jobs = [
            s.submit(f, callback=lambda o, j: got.__setitem__(j.userdata, o), userdata=i)
            for i, f in enumerate(frames)
        ]
        s.wait_all()
        assert len(jobs) == len(got) == 5
        for i, frame in enumerate(frames):
            _assert_outputs(got[i], frame, out_batch)
            _assert_outputs(s.infer(frame), frame, out_batch)


@pytest.mark.parametrize(("batch", "out_batch"), CASES)
def test_uncopied_jobs_write_the_callers_output_rows(descriptor, batch, out_batch):
    """copy=False wraps the caller's arrays row by row: out= has output_batch_size rows."""
    model = _model(descriptor, batch, out_batch)
    with vart_async.open(model, input_tensor_type="CPU", output_tensor_type="CPU") as s:
        frame = _frame(batch, 7)
        out = [np.zeros((out_batch, 16), np.int8), np.zeros((out_batch, 3), np.float32)]
        result = s.infer(frame, copy=False, out=out)
        assert all(np.shares_memory(a, b) for a, b in zip(result, out, strict=True))
        _assert_outputs(out, frame, out_batch)
        with pytest.raises(ValueError, match="shape"):  # the input batch's rows are not the output's
            s.infer(frame, copy=False, out=[np.zeros((batch, 16), np.int8), np.zeros((batch, 3), np.float32)])


def test_dequantize_takes_the_output_batch(descriptor):
    """Output views (HW and CPU) have the output batch: dequantize(HW outputs) = CPU-typed outputs."""
    outputs = [
        {"name": "y", "data_type": "INT8", "shape": [1, 16], "layout": "NC", "quant": {"scale": 0.125},
         "cpu": {"data_type": "FLOAT32"}},
        {"name": "z", "data_type": "FLOAT32", "shape": [1, 3], "layout": "NC"},
    ]
    model = _model(descriptor, 4, 1, outputs=outputs)
    frame = _frame(4, 3)
    with vart_async.open(model) as hw, vart_async.open(model, output_tensor_type="CPU") as cpu:
        assert hw.outputs[0].hw is not None
        assert cpu.outputs[0].cpu is not None
        assert hw.outputs[0].hw.shape == cpu.outputs[0].cpu.shape == (1, 16)
        q = hw.infer(frame)[0]
        f = cpu.infer(frame)[0]
        assert f.dtype == np.float32
        np.testing.assert_array_equal(hw.dequantize("y", q), f)
        np.testing.assert_array_equal(q, _expected(frame, 1)[0])
        with pytest.raises(ValueError, match="shape"):
            hw.dequantize("y", np.zeros((4, 16), np.int8))


# -- the CLI ----------------------------------------------------------------------------------------
@pytest.mark.usefixtures("in_tmp")
def test_cli_dry_run_counts_input_rows(capsys, descriptor):
    code, out, err = run(capsys, _model(descriptor, 4, 1), "--dry-run", "-n", "5", "--json", "r.json")
    assert (code, err) == (0, "")
    assert "batch 4 input rows -> 1 output row(s) per job; frames and FPS count input rows" in out
    assert "(20 frames = 5 jobs x batch 4)" in out
    doc = json.loads(Path("r.json").read_text())
    assert (doc["batch_size"], doc["output_batch_size"], doc["frames"]) == (4, 1, 20)
    assert not list(Path().glob("output_*"))


def test_cli_equal_batches_summary_unchanged(capsys, tiny):
    code, out, _ = run(capsys, tiny, "--dry-run", "-n", "2", "--json", "r.json")
    assert code == 0
    assert "(batch 2; run: 2 job(s))" in out
    assert json.loads(Path("r.json").read_text())["output_batch_size"] == 2


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("in_tmp")
@pytest.mark.parametrize(("batch", "out_batch"), CASES)
def test_cli_writes_output_batch_rows(capsys, descriptor, batch, out_batch):
    ifm = ifm_file("ifm.bin", batch * BPR, seed=5)
    code, out, err = run(capsys, _model(descriptor, batch, out_batch), ifm, "-n", "3")
    assert (code, err) == (0, "")
    assert f"Wrote output_f2_0.bin ({16 * out_batch} bytes, {out_batch} batch rows) name=y" in out
    assert f"Wrote output_f2_1.bin ({12 * out_batch} bytes, {out_batch} batch rows) name=z" in out
    rows = np.frombuffer(Path(ifm).read_bytes(), np.uint8).reshape(batch, BPR)
    frame = [rows[:, :8].copy(), rows[:, 8:].copy().view(np.float32)]
    expected = _expected(frame, out_batch)
    assert [Path(f"output_f2_{t}.bin").read_bytes() for t in (0, 1)] == [e.tobytes() for e in expected]
