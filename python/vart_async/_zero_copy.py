"""Jobs on the caller's own arrays (copy=False): the checks, with messages that name the tensor.

The core binds a slot to the arrays' memory for one job (VART: NpuTensors over it as ordinary user
memory; OpenVINO: ov::Tensor over it) and keeps them alive until the slot is bound again, so
nothing is copied. What can be bound is the engine's to say (`Pipeline.bind_refusals`): a HW-typed
VART tensor cannot, since the runtime exchanges those in device memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from vart_async import _staging


def check_bindable(refusals: tuple[list[str], list[str]], inputs: bool, outputs: bool) -> None:
    """Raises ValueError when a tensor of the sides asked for cannot be the caller's memory."""
    ins, outs = refusals
    why = [r for r in (ins if inputs else []) + (outs if outputs else []) if r]
    if why:
        advice = ""
        if any("HW-typed" in r for r in why):
            advice = (
                ": write into the slot arrays (Session.slots[k]) instead, or open the session with "
                "input_tensor_type='CPU' / output_tensor_type='CPU' "
                "(per tensor: input_tensor_type.<name>='CPU')"
            )
        raise ValueError("copy=False cannot wrap your arrays: " + "; ".join(why) + advice)


def _check(a: Any, target: npt.NDArray[Any], what: str, writable: bool) -> npt.NDArray[Any]:
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{what}: copy=False needs a numpy array (got {type(a).__name__})")
    problems = []
    if a.dtype != target.dtype:
        problems.append(f"dtype {a.dtype}, not {target.dtype}")
    if a.shape != target.shape and a.size != target.size:
        problems.append(f"shape {a.shape}, not {target.shape}")
    if not a.flags.c_contiguous:
        problems.append("not C-contiguous (np.ascontiguousarray makes a copy that is)")
    if not a.flags.aligned:
        problems.append(f"not aligned to its {a.dtype.itemsize}-byte elements")
    if writable and not a.flags.writeable:
        problems.append("read-only")
    if problems:
        raise ValueError(f"{what}: copy=False uses the array as it is, and it is " + ", ".join(problems))
    return a


def frame(inputs: Any, targets: Sequence[npt.NDArray[Any]], specs: Sequence[Any]) -> list[npt.NDArray[Any]]:
    """The frame's arrays in input order, each exactly what a slot's input buffer holds."""
    values = _staging.as_list(inputs, specs)
    both = zip(values, targets, specs, strict=True)
    return [_check(v, t, f"input '{s.name}'", writable=False) for v, t, s in both]


def refuse(inputs: Any, targets: Sequence[npt.NDArray[Any]], specs: Sequence[Any]) -> None:
    """For a frame the native check did not take as it is: raises ValueError saying why."""
    frame(inputs, targets, specs)
    raise ValueError("copy=False needs frames of exactly the inputs' dtypes and sizes")


def outputs(
    out: Any, targets: Sequence[npt.NDArray[Any]], specs: Sequence[Any]
) -> list[npt.NDArray[Any]]:
    """The caller's output arrays (a list in output order, or a name→array dict), checked; with
    out=None new arrays the job writes into directly."""
    if out is None:
        return [np.empty(t.shape, t.dtype) for t in targets]
    values = _staging.as_list(out, specs)
    both = zip(values, targets, specs, strict=True)
    return [_check(v, t, f"output '{s.name}'", writable=True) for v, t, s in both]


class BytesCopied(NamedTuple):
    """Bytes copied between the caller's arrays and the slots' buffers (Session.bytes_copied)."""

    inputs: int
    outputs: int
