"""Outputs follow inputs: every output belongs to its input, async equals sync."""

from __future__ import annotations

import numpy as np

import vart_async


def _fill(session, seed):
    rng = np.random.default_rng(seed)
    for slot in session.slots:
        for arr in slot.inputs:
            arr.view(np.uint8)[...] = rng.integers(0, 256, arr.view(np.uint8).shape, dtype=np.uint8)


def _outputs(session, k):
    return [o.copy() for o in session.slots[k].outputs]


def test_equal_inputs_give_equal_outputs(descriptor):
    with vart_async.open(descriptor(), jobs=2) as s:
        _fill(s, 1)
        for i, arr in enumerate(s.slots[0].inputs):
            s.slots[1].inputs[i][...] = arr
        s.run(iterations=2)
        for a, b in zip(_outputs(s, 0), _outputs(s, 1), strict=True):
            np.testing.assert_array_equal(a, b)


def test_different_inputs_give_different_outputs(descriptor):
    with vart_async.open(descriptor(), jobs=2) as s:
        _fill(s, 2)
        s.run(iterations=2)
        for a, b in zip(_outputs(s, 0), _outputs(s, 1), strict=True):
            assert not np.array_equal(a, b)
        # Each batch row depends on its own input row only.
        y = s.slots[0].outputs[0]
        assert not np.array_equal(y[0], y[1])


def test_async_equals_sync(descriptor):
    with vart_async.open(descriptor(service_time_us=100), jobs=3) as s:
        _fill(s, 3)
        s.run(iterations=30)
        async_out = [_outputs(s, k) for k in range(3)]
        for slot in s.slots:
            for o in slot.outputs:
                o[...] = 0
        s.run(iterations=3, mode="sync")
        for k in range(3):
            for a, b in zip(async_out[k], _outputs(s, k), strict=True):
                np.testing.assert_array_equal(a, b)


def test_float_outputs_are_finite(descriptor):
    with vart_async.open(descriptor(), jobs=2) as s:
        _fill(s, 4)
        s.run(iterations=2)
        z = s.slots[0].outputs[1]
        assert np.isfinite(z).all()
        assert (np.abs(z) <= 1).all()
