"""What a session's tensors and slots are, as Python sees them: the specs every module speaks of
(session, staging, inputs, zero-copy checks), kept below them all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from vart_async import _quant


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output as one job slot holds it (all batch rows)."""

    name: str
    dtype: str  # numpy name; "bfloat16" buffers are shown as uint16 arrays
    shape: tuple[int, ...]
    layout: str
    nbytes: int
    #: The runtime's quantization parameters for it (VART get_quant_parameters), or None.
    quant: _quant.QuantParams | None = None
    #: The runtime's HW and CPU views of it (VART), when it has them (see Session.quantize).
    hw: _quant.TensorView | None = None
    cpu: _quant.TensorView | None = None

    @classmethod
    def from_native(cls, t: dict[str, Any]) -> TensorSpec:
        views = t.get("views", {})
        return cls(
            t["name"],
            t["dtype"],
            tuple(t["shape"]),
            t["layout"],
            t["nbytes"],
            _quant.quant_of(t.get("quant")),
            _quant.view_of(views.get("HW")),
            _quant.view_of(views.get("CPU")),
        )

    @property
    def numpy_dtype(self) -> np.dtype[Any]:
        return np.dtype("uint16" if self.dtype == "bfloat16" else self.dtype)

    @property
    def row_nbytes(self) -> int:
        """Bytes of one batch row."""
        return self.nbytes // self.shape[0] if self.shape else self.nbytes


@dataclass(frozen=True)
class SlotView:
    """Slot k's buffers as numpy arrays that *are* the engine's buffers (zero-copy).

    Each array keeps the slot alive. Write inputs only while the slot has no job in flight.
    """

    index: int
    inputs: tuple[npt.NDArray[Any], ...]
    outputs: tuple[npt.NDArray[Any], ...]


class HasSlots(Protocol):
    """What fills slots needs of a session: its slots' arrays and its input specs."""

    @property
    def slots(self) -> tuple[SlotView, ...]: ...

    @property
    def inputs(self) -> tuple[TensorSpec, ...]: ...
