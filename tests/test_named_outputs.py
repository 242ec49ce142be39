"""Outputs by position and by name (`out[0]`, `out["z"]`) from stream, infer, job.wait, callbacks
and infer_async."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

import vart_async


def _frame(s):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (2, 8), dtype=np.uint8), rng.standard_normal((2, 4)).astype(np.float32)]


def _check(out, want):
    assert isinstance(out, vart_async.Outputs)
    assert out.names == ("y", "z")
    np.testing.assert_array_equal(out["y"], want[0])
    np.testing.assert_array_equal(out["z"], want[1])
    assert out[0] is out["y"]
    assert out[-1] is out["z"]
    assert [a.shape for a in out[0:2]] == [(2, 16), (2, 3)]
    assert list(out.keys()) == ["y", "z"]
    assert set(out.as_dict()) == {"y", "z"}
    with pytest.raises(KeyError, match="no output named 'logits' \\(the outputs are 'y', 'z'\\)"):
        out["logits"]


def test_every_path_returns_named_outputs(descriptor):
    with vart_async.open(descriptor(service_time_us=100), jobs=2) as s:
        frame = _frame(s)
        want = next(iter(s.stream([frame])))
        _check(want, want)
        with pytest.raises(ValueError, match="HW-typed"):  # copy=False: CPU-typed tensors only
            s.stream([frame], copy=False)
        _check(s.infer(frame), want)
        _check(s.submit(frame).wait(), want)
        seen = []
        s.submit(frame, callback=lambda out, job: seen.append(out))
        s.wait_all()
        _check(seen[0], want)
        _check(asyncio.run(s.infer_async(frame)), want)
