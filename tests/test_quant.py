"""Quantization in the API: TensorSpec.quant and the two views, Session.quantize / dequantize.

Against a NumPy reference for every documented rounding mode, saturation at both ends, several
dtypes and layouts (NCHW <-> NHWC), bfloat16 and clear errors. The element passes are C++.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import vart_async
from vart_async import _core

RESNET = Path(str(resources.files("vart_async") / "models" / "resnet50_int8.emu.json"))
INTEGERS = ["int8", "uint8", "int16", "uint16", "int32", "uint32"]
MODES = {"ROUND_TO_NEAREST_EVEN": np.rint, "ROUND_TOWARD_ZERO": np.trunc}


def reference_quantize(x: np.ndarray, scale: float, zp: int, mode: str, dtype: str) -> np.ndarray:
    info = np.iinfo(dtype)
    v = MODES[mode](x.astype(np.float32).astype(np.float64) / scale) + zp
    v = np.where(np.isnan(v), zp, v)
    return np.clip(v, info.min, info.max).astype(dtype)


def reference_dequantize(q: np.ndarray, scale: float, zp: int) -> np.ndarray:
    return ((q.astype(np.float64) - zp) * scale).astype(np.float32)


def reference_bf16(x: np.ndarray) -> np.ndarray:
    bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    nan = ((bits >> 16) | 0x40).astype(np.uint16)
    return np.where(np.isnan(x), nan, rounded)


def _values(dtype: str, scale: float, zp: int) -> np.ndarray:
    info = np.iinfo(dtype)
    rng = np.random.default_rng(3)
    span = float(info.max) - float(info.min)
    inside = rng.uniform(float(info.min) - zp, float(info.max) - zp, 2000) * scale
    ties = (np.arange(-40, 40) + 0.5) * scale  # exactly half way: where the modes differ
    beyond = np.array([-span * 4, span * 4, -1e30, 1e30, -np.inf, np.inf, np.nan, 0.0, -0.0]) * scale
    return np.concatenate([inside, ties, beyond]).astype(np.float32)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("dtype", INTEGERS)
def test_quantize_matches_numpy_for_every_rounding_mode_and_saturates(dtype, mode):
    scale, zp = 0.25, (3 if dtype.startswith("u") else -2)
    x = _values(dtype, scale, zp)
    got = _core.quantize(x, scale, zp, mode, dtype)
    want = reference_quantize(x, scale, zp, mode, dtype)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, want)
    info = np.iinfo(dtype)
    assert got.min() == info.min  # saturated at both ends
    assert got.max() == info.max


def test_the_rounding_modes_differ_on_ties():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.7, -2.7], np.float32)
    np.testing.assert_array_equal(_core.quantize(x, 1.0, 0, "ROUND_TO_NEAREST_EVEN", "int8"),
                                  [0, 2, 2, 0, -2, -2, 3, -3])
    np.testing.assert_array_equal(_core.quantize(x, 1.0, 0, "ROUND_TOWARD_ZERO", "int8"),
                                  [0, 1, 2, 0, -1, -2, 2, -2])


@pytest.mark.parametrize("dtype", INTEGERS)
def test_dequantize_matches_numpy(dtype):
    info = np.iinfo(dtype)
    q = np.random.default_rng(1).integers(info.min, info.max, 1000, endpoint=True, dtype=dtype)
    q[:2] = [info.min, info.max]
    np.testing.assert_array_equal(_core.dequantize(q, 0.125, 5), reference_dequantize(q, 0.125, 5))


def test_bfloat16_rounds_to_nearest_even_and_keeps_nan():
    x = np.concatenate([np.random.default_rng(2).standard_normal(5000).astype(np.float32) * 100,
                        np.array([np.inf, -np.inf, np.nan, 0.0, 1.0 + 2**-8, 1.0 + 3 * 2**-8], np.float32)])
    bits = _core.to_bfloat16(x)
    np.testing.assert_array_equal(bits, reference_bf16(x))
    back = _core.from_bfloat16(bits)
    assert np.isnan(back[-4])
    np.testing.assert_array_equal(back[:-4], (bits[:-4].astype(np.uint32) << 16).view(np.float32))


def test_bad_quantization_arguments_are_value_errors():
    x = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="scale must be finite and > 0"):
        _core.quantize(x, 0.0, 0, "ROUND_TO_NEAREST_EVEN", "int8")
    with pytest.raises(ValueError, match="rounding mode is UNKNOWN"):
        _core.quantize(x, 1.0, 0, "UNKNOWN", "int8")
    with pytest.raises(ValueError, match="rounding_mode must be"):
        _core.quantize(x, 1.0, 0, "ROUND_UP", "int8")
    with pytest.raises(ValueError, match="an integer type"):
        _core.quantize(x, 1.0, 0, "ROUND_TO_NEAREST_EVEN", "float32")


# -- through a session ----------------------------------------------------------------------------
def test_the_shipped_descriptor_reports_its_quant_and_views():
    with vart_async.open(RESNET, jobs=1) as s:
        x, y = s.inputs[0], s.outputs[0]
        assert x.quant == vart_async.QuantParams(0.015625, 0, "ROUND_TO_NEAREST_EVEN")
        assert y.quant == vart_async.QuantParams(0.125, 0, "ROUND_TO_NEAREST_EVEN")
        assert x.hw == vart_async.TensorView("int8", (1, 224, 224, 3), "NHWC")
        assert x.cpu == vart_async.TensorView("float32", (1, 3, 224, 224), "NCHW")
        image = np.random.default_rng(0).uniform(-3, 3, (1, 3, 224, 224)).astype(np.float32)
        q = s.quantize("input", image)
        assert q.shape == (1, 224, 224, 3)
        assert q.dtype == np.int8
        assert q.flags.c_contiguous
        want = reference_quantize(image.transpose(0, 2, 3, 1), 0.015625, 0, "ROUND_TO_NEAREST_EVEN", "int8")
        np.testing.assert_array_equal(q, want)
        s.slots[0].inputs[0][...] = q  # how a user fills a HW slot from a float frame
        s.run(iterations=1)
        out = s.dequantize(0, s.slots[0].outputs[0])
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, reference_dequantize(s.slots[0].outputs[0], 0.125, 0))


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(("hw_type", "dtype"), [("UINT8", "uint8"), ("INT16", "int16")])
def test_quantize_and_dequantize_round_trip_nhwc(descriptor, mode, hw_type, dtype):
    quant = {"scale": 0.05, "zero_point": 7, "rounding_mode": mode}
    hw = {"data_type": hw_type, "shape": [1, 4, 5, 3], "layout": "NHWC", "quant": quant}
    cpu = {"data_type": "FLOAT32", "shape": [1, 3, 4, 5], "layout": "NCHW"}
    model = descriptor(
        batch_size=2,
        inputs=[{"name": "img", **hw, "cpu": cpu}],
        outputs=[{"name": "map", **hw, "cpu": cpu}],
    )
    with vart_async.open(model, jobs=1) as s:
        assert s.inputs[0].quant == vart_async.QuantParams(0.05, 7, mode)
        x = np.random.default_rng(5).uniform(-2, 2, (2, 3, 4, 5)).astype(np.float32)
        q = s.quantize(0, x)
        np.testing.assert_array_equal(q, reference_quantize(x.transpose(0, 2, 3, 1), 0.05, 7, mode, dtype))
        back = s.dequantize("map", q)
        assert back.shape == (2, 3, 4, 5)
        np.testing.assert_array_equal(back, reference_dequantize(q, 0.05, 7).transpose(0, 3, 1, 2))
        info = np.iinfo(dtype)
        lo, hi = (info.min - 7) * 0.05, (info.max - 7) * 0.05
        inside = (x >= lo) & (x <= hi)
        assert np.abs(back - x)[inside].max() <= 0.05 + 1e-6  # within one step
        np.testing.assert_allclose(back[~inside], np.clip(x[~inside], lo, hi), atol=1e-6)  # saturated


def test_bfloat16_hw_view(descriptor):
    model = descriptor(
        batch_size=1,
        inputs=[{"name": "x", "data_type": "BF16", "shape": [1, 2, 3, 4], "layout": "NHWC",
                 "cpu": {"data_type": "FLOAT32", "shape": [1, 4, 2, 3], "layout": "NCHW"}}],
    )
    with vart_async.open(model, jobs=1) as s:
        assert s.inputs[0].quant is None
        x = np.random.default_rng(9).standard_normal((1, 4, 2, 3)).astype(np.float32)
        bits = s.quantize("x", x)
        assert bits.dtype == np.uint16
        np.testing.assert_array_equal(bits, reference_bf16(x.transpose(0, 2, 3, 1)))


def test_session_quantize_errors_are_clear(descriptor):
    with vart_async.open(RESNET, jobs=1) as s:
        shape = r"CPU view's shape \(1, 3, 224, 224\) \(NCHW\), got \(1, 224, 224, 3\)"
        with pytest.raises(ValueError, match=shape):
            s.quantize("input", np.zeros((1, 224, 224, 3), np.float32))
        with pytest.raises(ValueError, match="no tensor 'nope'"):
            s.quantize("nope", np.zeros(3))
        with pytest.raises(ValueError, match="index from 0 to 0"):
            s.quantize(1, np.zeros(3))
        with pytest.raises(ValueError, match="takes real numbers"):
            s.quantize(0, np.zeros((1, 3, 224, 224), "U1"))
        with pytest.raises(ValueError, match="HW view's dtype int8"):
            s.dequantize(0, np.zeros((1, 1000), np.float32))
    plain = descriptor(inputs=[{"name": "a", "data_type": "INT8", "shape": [1, 8], "layout": "NC"}])
    with vart_async.open(plain, jobs=1) as s, pytest.raises(ValueError, match="no quantization parameters"):
        s.quantize("a", np.zeros((2, 8), np.float32))
    blocked = descriptor(inputs=[{"name": "a", "data_type": "INT8", "shape": [1, 8, 2, 4], "layout": "NC4HW4",
                                  "quant": {"scale": 1.0},
                                  "cpu": {"data_type": "FLOAT32", "shape": [1, 4, 8, 2], "layout": "NCHW"}}])
    with vart_async.open(blocked, jobs=1) as s, pytest.raises(ValueError, match="cannot reorder"):
        s.quantize("a", np.zeros((2, 4, 8, 2), np.float32))
