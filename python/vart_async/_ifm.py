"""The file rules of `vart-async-bench`: input binaries (IFM), staging into slots, output files (OFM).

Pure functions over numpy arrays and paths, so every rule is testable without a session.

A *row* is the bytes of one batch element over all input tensors, concatenated in input order
(`vart_infer_async` calls it a "sample row"; it only supports one input tensor). An IFM file is
read from its start: up to `batch_size` whole rows; a trailing partial row is ignored; a file
holding fewer rows than the batch fills the rest of the batch with zeros.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Bytes2D = npt.NDArray[np.uint8]

#: numpy dtype name -> the lower-case VART DataType name the sample prints.
_VART_DTYPE = {
    "bool": "boolean",
    "int8": "int8",
    "uint8": "uint8",
    "int16": "int16",
    "uint16": "uint16",
    "bfloat16": "bf16",
    "float16": "fp16",
    "int32": "int32",
    "uint32": "uint32",
    "float32": "float32",
    "int64": "int64",
    "uint64": "uint64",
}


class IfmError(ValueError):
    """An input binary, or a model's inputs, do not fit the IFM rules. The message is user-facing."""


class _Spec(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def shape(self) -> tuple[int, ...]: ...
    @property
    def nbytes(self) -> int: ...


@dataclass(frozen=True)
class RowLayout:
    """How one row splits over the input tensors: tensor i takes `row_nbytes[i]` bytes, in order."""

    names: tuple[str, ...]
    row_nbytes: tuple[int, ...]
    batch_size: int

    @property
    def bytes_per_row(self) -> int:
        return sum(self.row_nbytes)

    def describe(self) -> str:
        """`24 bytes (a 8 + b 16)`: the row and how it splits."""
        parts = " + ".join(f"{n} {b}" for n, b in zip(self.names, self.row_nbytes, strict=True))
        return f"{self.bytes_per_row} bytes ({parts})"


def row_layout(specs: Sequence[_Spec], batch_size: int) -> RowLayout:
    """The row layout of a model's inputs. A tensor's batch rows run along its leading dimension."""
    if batch_size < 1:
        raise IfmError("batch size is zero")
    sizes = []
    for spec in specs:
        if batch_size == 1:
            sizes.append(spec.nbytes)
        elif spec.shape and spec.shape[0] == batch_size and spec.nbytes % batch_size == 0:
            sizes.append(spec.nbytes // batch_size)
        else:
            raise IfmError(
                f"input tensor '{spec.name}' (shape {list(spec.shape)}) has no leading batch dimension of "
                f"size {batch_size}: its IFM rows cannot be told apart"
            )
    layout = RowLayout(tuple(s.name for s in specs), tuple(sizes), batch_size)
    if layout.bytes_per_row == 0:
        raise IfmError("bytes per input frame is zero")
    return layout


def load_ifm(path: str | os.PathLike[str], bytes_per_row: int, batch_size: int) -> Bytes2D:
    """Reads up to `batch_size` whole rows from the start of `path`; returns them as (rows, bytes_per_row).

    Raises IfmError for a missing file, anything but a regular file (a directory, FIFO, device or
    socket: named as what it is, never opened), or a file smaller than one row.
    """
    p = Path(path)
    try:
        # The kind first: open() on a FIFO blocks until a writer comes, and a device never ends.
        _require_regular(p, os.stat(p).st_mode)
    except FileNotFoundError:
        raise IfmError(f"input file not found: {p}") from None
    except OSError as e:
        raise IfmError(f"failed to open input binary: {p} ({e.strerror or e})") from None
    if bytes_per_row <= 0:
        raise IfmError("bytes per frame is zero")
    if batch_size <= 0:
        raise IfmError("batch size is zero")
    try:
        # O_NONBLOCK: should a FIFO replace the file after stat(), open() still returns at once.
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise IfmError(f"failed to open input binary: {p} ({e.strerror or e})") from None
    with os.fdopen(fd, "rb") as f:
        try:
            st = os.fstat(f.fileno())
            _require_regular(p, st.st_mode)
            if st.st_size < bytes_per_row:
                raise IfmError(
                    f"input binary too small: need at least {bytes_per_row} bytes for one sample row "
                    f"(got {st.st_size} byte(s))"
                )
            data: Bytes2D = np.empty((min(batch_size, st.st_size // bytes_per_row), bytes_per_row), np.uint8)
            got = f.readinto(data.data.cast("B"))  # straight into the array: no second copy
        except OSError as e:
            raise IfmError(f"failed to read input binary: {p} ({e.strerror or e})") from None
    if got != data.nbytes:  # the file shrank between stat() and read()
        raise IfmError(f"failed to read input binary: {p}")
    return data


def special_file_kind(mode: int) -> str | None:
    """What a file of `os.stat` mode `mode` is ("a FIFO (named pipe)", ...); None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    kinds = [
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((name for test, name in kinds if test(mode)), "a special file")


def _require_regular(path: Path, mode: int) -> None:
    kind = special_file_kind(mode)
    if kind is not None:
        note = "" if kind == "a directory" else " (not a regular file)"
        raise IfmError(f"input binary is {kind}: {path}{note}")


def random_ifm(rows: int, bytes_per_row: int, rng: np.random.Generator | None = None) -> Bytes2D:
    """`rows` rows of uniformly random bytes (the dry-run input)."""
    if rows < 1:
        raise IfmError("load_input_random: num_frames must be >= 1")
    if bytes_per_row <= 0:
        raise IfmError("bytes per frame is zero")
    rng = rng if rng is not None else np.random.default_rng()
    return rng.integers(0, 256, size=(rows, bytes_per_row), dtype=np.uint8)


def short_ifm_notice(rows: int, batch_size: int) -> str | None:
    """The sample's notice when the IFM holds fewer rows than one batch (None when it does not)."""
    if rows >= batch_size:
        return None
    return (
        f"[INFO] copy_frame_to_slot: IFM has {rows} full row(s); need {batch_size} row(s) for "
        f"frame_index=0 and batch_size={batch_size}. Short slots are zero-filled."
    )


@dataclass(frozen=True)
class Ifm:
    """The rows a run stages into every slot, where they came from, and what to tell the user."""

    rows: Bytes2D
    layout: RowLayout
    source: dict[str, Any]
    messages: tuple[str, ...]


def prepare(layout: RowLayout, path: str | None, rng: np.random.Generator | None = None) -> Ifm:
    """The IFM of a run: one batch of random rows when `path` is None (dry-run), else rows read from it."""
    batch_size = layout.batch_size
    if path is None:
        rows = random_ifm(batch_size, layout.bytes_per_row, rng)
        said = f"[INFO] dry-run: filled {batch_size} frame(s) with random bytes (no IFM file read)."
        source: dict[str, Any] = {"source": "random"}
    else:
        rows = load_ifm(path, layout.bytes_per_row, batch_size)
        said = f"[INFO] IFM {path}: {len(rows)} full row(s) of {layout.bytes_per_row} bytes used"
        source = {"source": "file", "path": path}
    source.update(rows=len(rows), bytes_per_row=layout.bytes_per_row)
    notice = short_ifm_notice(len(rows), batch_size)  # once, not once per slot as the sample does
    return Ifm(rows, layout, source, (said,) if notice is None else (said, notice))


def byte_rows(array: npt.NDArray[Any], batch_size: int) -> Bytes2D:
    """A (batch_size, bytes per row) uint8 view of a slot buffer: writing to it writes the buffer."""
    if not array.flags.c_contiguous:  # reshape would copy, and writes would be lost
        raise ValueError("slot buffer is not C-contiguous")
    return array.reshape(-1).view(np.uint8).reshape(batch_size, -1)


def stage(inputs: Sequence[npt.NDArray[Any]], ifm: Bytes2D, layout: RowLayout) -> None:
    """Copies IFM rows into one slot's input buffers in place; batch rows past the IFM are zeroed.

    Row r of the IFM goes to batch row r; its bytes are split over the input tensors in order.
    """
    if len(inputs) != len(layout.row_nbytes):
        raise ValueError(f"slot has {len(inputs)} input buffers, the layout {len(layout.row_nbytes)}")
    if ifm.ndim != 2 or ifm.shape[1] != layout.bytes_per_row:
        raise ValueError(f"IFM rows are {ifm.shape[-1]} bytes, the model's {layout.bytes_per_row}")
    rows = min(len(ifm), layout.batch_size)
    offset = 0
    for array, n in zip(inputs, layout.row_nbytes, strict=True):
        dst = byte_rows(array, layout.batch_size)
        if dst.shape[1] != n:
            raise ValueError(f"slot buffer rows are {dst.shape[1]} bytes, expected {n}")
        dst[:rows] = ifm[:rows, offset : offset + n]
        dst[rows:] = 0
        offset += n


def vart_dtype_name(numpy_name: str) -> str:
    """The lower-case VART DataType name for a tensor's numpy dtype name ("float16" -> "fp16")."""
    return _VART_DTYPE.get(numpy_name, "unknown")


def ofm_name(frame: int, tensor: int) -> str:
    """The OFM file name of output tensor `tensor` for frame `frame` (the documented form)."""
    return f"output_f{frame}_{tensor}.bin"


@dataclass(frozen=True)
class OfmFile:
    path: Path
    nbytes: int
    rows: int
    name: str
    dtype: str  # VART name
    frame: int
    tensor: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "bytes": self.nbytes,
            "rows": self.rows,
            "name": self.name,
            "dtype": self.dtype,
            "frame": self.frame,
            "tensor": self.tensor,
        }

    def line(self) -> str:
        """The sample's `Wrote ...` line."""
        return (
            f"Wrote {self.path} ({self.nbytes} bytes, {self.rows} batch rows) name={self.name} "
            f"dtype={self.dtype} frame={self.frame} tensor={self.tensor}"
        )


class _OutSpec(_Spec, Protocol):
    @property
    def dtype(self) -> str: ...


def write_ofms(
    outputs: Sequence[npt.NDArray[Any]],
    specs: Sequence[_OutSpec],
    frame: int,
    batch_size: int,
    out_dir: str | os.PathLike[str] = ".",
) -> list[OfmFile]:
    """Writes each output tensor (all batch rows) of one slot to `out_dir/output_f<frame>_<t>.bin`."""
    written = []
    directory = Path(out_dir)
    for t, (array, spec) in enumerate(zip(outputs, specs, strict=True)):
        path = directory / ofm_name(frame, t)
        data = byte_rows(array, batch_size)
        try:
            with path.open("wb") as f:
                f.write(data.tobytes())
        except OSError as e:
            raise OSError(f"cannot write {path}: {e.strerror or e}") from None
        written.append(OfmFile(path, data.size, batch_size, spec.name, vart_dtype_name(spec.dtype), frame, t))
    return written


def first_difference(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> int | None:
    """Byte offset of the first byte where two buffers differ (None when they are bit-identical)."""
    x = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
    y = np.ascontiguousarray(b).reshape(-1).view(np.uint8)
    n = min(x.size, y.size)
    diff = np.flatnonzero(x[:n] != y[:n])
    if diff.size:
        return int(diff[0])
    return None if x.size == y.size else n


def fill_outputs(slots: Sequence[Sequence[npt.NDArray[Any]]], byte: int) -> None:
    """Sets every byte of every output buffer to `byte` (so an output left unwritten shows)."""
    for outputs in slots:
        for array in outputs:
            array.view(np.uint8)[...] = byte


def compare_outputs(
    first: Sequence[Sequence[npt.NDArray[Any]]], second: Sequence[Sequence[npt.NDArray[Any]]]
) -> tuple[int, int, int] | None:
    """The first (slot, tensor, byte offset) where two runs' outputs ([slot][tensor]) differ, or None."""
    for k, (xs, ys) in enumerate(zip(first, second, strict=True)):
        for t, (x, y) in enumerate(zip(xs, ys, strict=True)):
            offset = first_difference(x, y)
            if offset is not None:
                return k, t, offset
    return None
