"""Quantization and the two views of a VART tensor: how a user fills HW slot arrays from float data.

A VART-ML tensor has a CPU view (the ONNX model's: float32, e.g. NCHW) and a HW view (what the NPU
exchanges: e.g. int8 NHWC), related by the tensor's quantization parameters (`get_quant_parameters`):
q = saturate(round(x / scale) + zero_point), x = (q - zero_point) * scale. The element passes run in
C++ (`_core.quantize` / `dequantize`, GIL released); the layout reorder is a numpy transpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vart_async import _core

#: The rounding modes VART-ML documents (RoundingMode); UNKNOWN cannot quantize.
ROUNDING_MODES = ("ROUND_TO_NEAREST_EVEN", "ROUND_TOWARD_ZERO", "UNKNOWN")
_INTEGERS = ("int8", "uint8", "int16", "uint16", "int32", "uint32")


@dataclass(frozen=True)
class QuantParams:
    """A tensor's quantization parameters, as the runtime's get_quant_parameters gives them."""

    scale: float
    zero_point: int
    rounding_mode: str  # one of ROUNDING_MODES


@dataclass(frozen=True)
class TensorView:
    """One of the runtime's views of a tensor (all batch rows), e.g. the HW or the CPU view."""

    dtype: str  # numpy name; "bfloat16" data is held as uint16
    shape: tuple[int, ...]
    layout: str

    @property
    def numpy_dtype(self) -> np.dtype[Any]:
        return np.dtype("uint16" if self.dtype == "bfloat16" else self.dtype)


def view_of(raw: Any) -> TensorView | None:
    return None if raw is None else TensorView(str(raw[0]), tuple(int(d) for d in raw[1]), str(raw[2]))


def quant_of(raw: Any) -> QuantParams | None:
    return None if raw is None else QuantParams(float(raw[0]), int(raw[1]), str(raw[2]))


def _order(cpu: TensorView, hw: TensorView, name: str) -> tuple[int, ...]:
    """The axes of the CPU view in the HW view's order (a transpose), or ValueError."""
    a, b = cpu.layout.upper(), hw.layout.upper()
    if a == b:
        return tuple(range(len(cpu.shape)))
    plain = a.isalpha() and b.isalpha() and len(set(a)) == len(a) and sorted(a) == sorted(b)
    if not plain or len(a) != len(cpu.shape):
        raise ValueError(
            f"tensor {name!r}: cannot reorder its CPU layout {cpu.layout} to its HW layout {hw.layout} "
            "(permutations of the same axes only, such as NCHW <-> NHWC)"
        )
    return tuple(a.index(c) for c in b)


def _views(spec: Any) -> tuple[TensorView, TensorView]:
    own = TensorView(spec.dtype, spec.shape, spec.layout)
    hw = spec.hw or own
    cpu = spec.cpu or TensorView("float32", hw.shape, hw.layout)
    return cpu, hw


def _need_quant(spec: Any, hw: TensorView) -> QuantParams:
    if spec.quant is None:
        raise ValueError(
            f"tensor {spec.name!r} has no quantization parameters: its {hw.dtype} HW view cannot be "
            "converted from or to float"
        )
    q: QuantParams = spec.quant
    return q


def quantize(spec: Any, array: Any) -> npt.NDArray[Any]:
    """`array` in the CPU view (float values, its shape) -> a new array in the HW view (its dtype,
    shape and layout): reordered, then quantized (saturating) or converted (bfloat16, float16)."""
    cpu, hw = _views(spec)
    x = np.asarray(array)
    if x.dtype.kind not in "fiub":
        raise ValueError(f"tensor {spec.name!r}: quantize takes real numbers (got dtype {x.dtype})")
    if x.shape != cpu.shape:
        raise ValueError(
            f"tensor {spec.name!r}: quantize takes its CPU view's shape {cpu.shape} ({cpu.layout}), "
            f"got {x.shape}"
        )
    order = _order(cpu, hw, spec.name)
    x = np.ascontiguousarray(x.transpose(order), dtype=np.float32)
    if hw.dtype in _INTEGERS:
        q = _need_quant(spec, hw)
        out: npt.NDArray[Any] = _core.quantize(x, q.scale, q.zero_point, q.rounding_mode, hw.dtype)
    elif hw.dtype == "bfloat16":
        out = _core.to_bfloat16(x)
    elif hw.dtype in ("float16", "float32"):
        out = x.astype(hw.dtype)
    else:
        raise ValueError(f"tensor {spec.name!r}: cannot convert float to its HW type {hw.dtype}")
    return out.reshape(hw.shape)


def dequantize(spec: Any, array: Any) -> npt.NDArray[Any]:
    """`array` in the HW view (its dtype and shape) -> a new float32 array in the CPU view's shape
    and layout: dequantized or converted, then reordered."""
    cpu, hw = _views(spec)
    x = np.asarray(array)
    if x.dtype != hw.numpy_dtype:
        raise ValueError(
            f"tensor {spec.name!r}: dequantize takes its HW view's dtype {hw.dtype} (got {x.dtype})"
        )
    if x.shape != hw.shape:
        raise ValueError(
            f"tensor {spec.name!r}: dequantize takes its HW view's shape {hw.shape} ({hw.layout}), "
            f"got {x.shape}"
        )
    order = _order(cpu, hw, spec.name)
    x = np.ascontiguousarray(x)
    if hw.dtype in _INTEGERS:
        q = _need_quant(spec, hw)
        y: npt.NDArray[Any] = _core.dequantize(x, q.scale, q.zero_point)
    elif hw.dtype == "bfloat16":
        y = _core.from_bfloat16(x)
    elif hw.dtype in ("float16", "float32"):
        y = x.astype(np.float32)
    else:
        raise ValueError(f"tensor {spec.name!r}: cannot convert its HW type {hw.dtype} to float")
    back = np.argsort(order)
    return np.ascontiguousarray(y.transpose(tuple(int(i) for i in back)))
