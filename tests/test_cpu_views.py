"""CPU-typed tensors on the emulator have the runtime's semantics: a CPU-typed input is converted to
the HW view (reorder, quantize or convert), the output function runs on the HW bytes, and a
CPU-typed output is converted back. So for the same float image, CPU-typed outputs equal
dequantize(HW-typed outputs of quantize(image)), on several dtypes and layouts.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import vart_async

RESNET = Path(str(resources.files("vart_async") / "models" / "resnet50_int8.emu.json"))


def _cpu_and_hw(model: Path, frames: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Outputs of the CPU-typed session on `frames`, and dequantize(HW outputs of quantize(frames))."""
    with vart_async.open(model, jobs=2, input_tensor_type="CPU", output_tensor_type="CPU") as cpu:
        got = [out[0] for out in cpu.stream(frames)]
    with vart_async.open(model, jobs=2) as hw:
        quantized = [hw.quantize(0, f) for f in frames]
        want = [hw.dequantize(0, out[0]) for out in hw.stream(quantized)]
    return got, want


def test_the_shipped_resnet_descriptor():
    rng = np.random.default_rng(0)
    frames = [rng.uniform(-2.5, 2.5, (1, 3, 224, 224)).astype(np.float32) for _ in range(3)]
    got, want = _cpu_and_hw(RESNET, frames)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.float32
        assert g.shape == (1, 1000)
        np.testing.assert_array_equal(g, w)
    assert not np.array_equal(got[0], got[1])  # the input matters


CASES = {
    "int8 NHWC nearest-even": (
        "INT8",
        {"scale": 0.02, "zero_point": -3},
        "INT8",
        {"scale": 0.25, "zero_point": 4},
    ),
    "uint8 NHWC toward-zero": (
        "UINT8",
        {"scale": 0.01, "zero_point": 128, "rounding_mode": "ROUND_TOWARD_ZERO"},
        "INT16",
        {"scale": 0.001, "zero_point": 0},
    ),
    "bf16 NHWC": ("BF16", None, "BF16", None),
    "int8 exact ties": ("INT8", {"scale": 0.25, "zero_point": 1}, "INT8", {"scale": 0.5, "zero_point": 0}),
}
# Elements every frame also holds: ties of the 0.25 scale (x / scale = k + 0.5), the extremes, and
# what has no integer (NaN gives the zero point, +-inf saturates).
SPECIAL = [0.125, 0.375, -0.125, -0.375, 0.625, 1e30, -1e30, np.inf, -np.inf, np.nan, 0.0, -0.0]


@pytest.mark.parametrize("case", list(CASES))
def test_cpu_outputs_are_dequantized_hw_outputs_of_quantized_inputs(descriptor, case):
    in_type, in_quant, out_type, out_quant = CASES[case]
    x = {"name": "x", "data_type": in_type, "shape": [1, 3, 5, 2], "layout": "NHWC",
         "cpu": {"data_type": "FLOAT32", "shape": [1, 2, 3, 5], "layout": "NCHW"}}
    y = {"name": "y", "data_type": out_type, "shape": [1, 4, 2, 3], "layout": "NHWC",
         "cpu": {"data_type": "FLOAT32", "shape": [1, 3, 4, 2], "layout": "NCHW"}}
    if in_quant:
        x["quant"] = in_quant
    if out_quant:
        y["quant"] = out_quant
    model = descriptor(batch_size=2, inputs=[x], outputs=[y], service_time_us=50)
    rng = np.random.default_rng(4)
    # Values past the HW type's range too: the runtime's quantization saturates, as ours does.
    frames = [rng.uniform(-4, 4, (2, 2, 3, 5)).astype(np.float32) for _ in range(4)]
    for f in frames:
        f.reshape(-1)[: len(SPECIAL)] = SPECIAL
    got, want = _cpu_and_hw(model, frames)
    for g, w in zip(got, want, strict=True):
        assert g.shape == (2, 3, 4, 2)
        np.testing.assert_array_equal(g, w)


def test_a_cpu_view_the_emulator_cannot_reorder_is_a_clear_error(descriptor):
    blocked = {"name": "a", "data_type": "INT8", "shape": [1, 2, 4, 4, 4], "layout": "NC4HW4",
               "cpu": {"data_type": "FLOAT32", "shape": [1, 8, 4, 4], "layout": "NCHW"}}
    model = descriptor(inputs=[blocked])
    with vart_async.open(model):  # HW-typed: nothing to convert
        pass
    with pytest.raises(vart_async.EngineError, match="cannot convert its CPU view to its HW view"):
        vart_async.open(model, input_tensor_type="CPU")
