"""Slot arrays are the engine's buffers: no copies, and they keep their slot alive."""

from __future__ import annotations

import gc

import numpy as np

import vart_async


def test_specs_and_arrays_match(descriptor):
    with vart_async.open(descriptor(), jobs=3) as s:
        assert s.batch_size == 2
        assert [t.name for t in s.inputs] == ["a", "b"]
        assert s.inputs[0].shape == (2, 8)
        assert s.inputs[1].dtype == "float32"
        assert s.outputs[0].nbytes == 32
        assert len(s.slots) == 3
        for slot in s.slots:
            for spec, arr in zip(s.inputs, slot.inputs, strict=True):
                assert arr.shape == spec.shape
                assert arr.dtype == spec.numpy_dtype
                assert arr.nbytes == spec.nbytes
                assert arr.flags.c_contiguous
                assert arr.flags.writeable


def test_arrays_are_the_buffers(descriptor):
    with vart_async.open(descriptor(), jobs=2) as s:
        a0 = s.slots[0].inputs[0]
        assert np.shares_memory(a0, s.slots[0].inputs[0])
        assert not np.shares_memory(a0, s.slots[1].inputs[0])
        assert a0.base is not None  # an owner keeps the slot alive
        out = s.slots[0].outputs[0]
        out[...] = 0
        s.run(iterations=1)  # job 0 runs on slot 0 and writes the array we hold
        assert out.any()


def test_arrays_outlive_the_session(descriptor):
    s = vart_async.open(descriptor(), jobs=2)
    arr = s.slots[1].outputs[1]
    s.run(iterations=2)
    expected = arr.copy()
    s.close()
    del s
    gc.collect()
    np.testing.assert_array_equal(arr, expected)  # still valid memory
    arr[...] = 1.0
