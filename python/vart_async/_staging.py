"""Putting a caller's inputs into a slot's buffers (the only copy on the way in)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from vart_async._specs import TensorSpec

Inputs = npt.ArrayLike | Sequence[npt.ArrayLike] | Mapping[str, npt.ArrayLike]


def as_list(inputs: Inputs, specs: Sequence[TensorSpec]) -> list[Any]:
    """One value per model input, in model order, from an array, a sequence or a name→array map."""
    if isinstance(inputs, Mapping):
        missing = [s.name for s in specs if s.name not in inputs]
        extra = [k for k in inputs if k not in {s.name for s in specs}]
        if missing or extra:
            raise ValueError(
                f"inputs by name: missing {missing}, unknown {extra}; expected {[s.name for s in specs]}"
            )
        return [inputs[s.name] for s in specs]
    if len(specs) == 1 and not isinstance(inputs, (list, tuple)):
        return [inputs]
    if not isinstance(inputs, (list, tuple)) or len(inputs) != len(specs):
        raise ValueError(
            f"the model has {len(specs)} inputs ({', '.join(s.name for s in specs)}): "
            "give one array per input, as a list or a dict"
        )
    return list(inputs)


def stage(targets: Sequence[npt.NDArray[Any]], inputs: Inputs, specs: Sequence[TensorSpec]) -> None:
    """Copies `inputs` into the slot arrays `targets`.

    Shapes must match, or at least the element counts (e.g. a leading batch of 1 left out). A frame
    with fewer batch rows than the slot (the same shape past the first axis) fills the first rows;
    the rest are zero-filled, as the CLI does for a short IFM.
    """
    for target, value, spec in zip(targets, as_list(inputs, specs), specs, strict=True):
        src = np.asarray(value)
        rows = None  # a short frame: its rows
        if src.shape != target.shape:
            short = (
                src.ndim == target.ndim >= 1
                and src.shape[1:] == target.shape[1:]
                and 0 < src.shape[0] < target.shape[0]
            )
            if short:
                rows = src.shape[0]
            elif src.size != target.size:
                raise ValueError(f"input '{spec.name}': shape {src.shape} does not fit {target.shape}")
            else:
                src = src.reshape(target.shape)
        if (
            src.dtype != target.dtype
            and spec.dtype != "bfloat16"
            and not np.can_cast(src.dtype, target.dtype, casting="same_kind")
        ):
            raise ValueError(f"input '{spec.name}': dtype {src.dtype} cannot be cast to {target.dtype}")
        if rows is None:
            np.copyto(target, src, casting="unsafe")
        else:
            np.copyto(target[:rows], src, casting="unsafe")
            target[rows:] = 0


def exact(inputs: Inputs, targets: Sequence[npt.NDArray[Any]], specs: Sequence[TensorSpec]) -> list[Any]:
    """`inputs` as new arrays laid out exactly like the slot arrays `targets` (same rule as stage())."""
    copies = [np.empty_like(t) for t in targets]
    stage(copies, inputs, specs)
    return copies
