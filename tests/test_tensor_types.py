"""Per-tensor tensor types (`input_tensor_type.<name>`, `output_tensor_type.<name>`): each slot
buffer is sized from the view its tensor is exchanged in, and jobs run."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import vart_async

RESNET = Path(str(resources.files("vart_async") / "models" / "resnet50_int8.emu.json"))


def test_one_cpu_typed_input_on_the_shipped_descriptor():
    with vart_async.open(RESNET, **{"input_tensor_type.input": "CPU"}) as s:
        spec = s.inputs[0]
        assert (spec.dtype, spec.shape, spec.layout) == ("float32", (1, 3, 224, 224), "NCHW")
        assert s.outputs[0].dtype == "int8"  # the output keeps the global HW type
        assert s.info["properties"]["input_tensor_type.input"] == "CPU"
        r = s.run(iterations=4)
        assert r.completed == 4
        image = np.random.default_rng(1).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)
        cpu_typed = next(iter(s.stream([image])))[0]
    with vart_async.open(RESNET) as hw:  # the same job, quantized by us into the HW view
        want = next(iter(hw.stream([hw.quantize("input", image)])))[0]
    np.testing.assert_array_equal(cpu_typed, want)


def test_mixed_types_per_tensor(descriptor):
    ins = [
        {"name": "a", "data_type": "UINT8", "shape": [1, 8], "layout": "NC",
         "quant": {"scale": 0.5, "zero_point": 0}, "cpu": {"data_type": "FLOAT32"}},
        {"name": "b", "data_type": "BF16", "shape": [1, 4], "layout": "NC", "cpu": {"data_type": "FLOAT32"}},
    ]
    outs = [
        {"name": "y", "data_type": "INT8", "shape": [1, 6], "layout": "NC",
         "quant": {"scale": 0.25, "zero_point": 1}, "cpu": {"data_type": "FLOAT32"}},
        {"name": "z", "data_type": "FLOAT32", "shape": [1, 3], "layout": "NC"},
    ]
    model = descriptor(inputs=ins, outputs=outs)
    types = {"input_tensor_type.b": "CPU", "output_tensor_type.y": "CPU"}
    with vart_async.open(model, jobs=2, **types) as s:
        assert [t.dtype for t in s.inputs] == ["uint8", "float32"]
        assert [t.dtype for t in s.outputs] == ["float32", "float32"]
        assert [t.nbytes for t in s.inputs] == [2 * 8, 2 * 4 * 4]
        assert s.run(iterations=6).completed == 6
    with pytest.raises(vart_async.EngineError, match="no input tensor named 'nope'"):
        vart_async.open(model, **{"input_tensor_type.nope": "CPU"})
    with pytest.raises(ValueError, match="must be 'HW' or 'CPU'"):
        vart_async.open(model, **{"input_tensor_type.a": "GPU"})
