"""Inputs for a benchmark: realistic random fills by dtype, and real data (`--input-data`).

One implementation for the CLI's dry-run, `Session.fill_random`, the pytest fixture and the
benchmarks. Random floats are uniform in [0, 1) with no NaN, Inf or denormal (values below the
dtype's smallest normal number become 0); integers span their dtype's range; booleans are 0/1;
bfloat16 buffers (shown as uint16) hold the bf16 values of such floats.

Real data (`load_frames`) becomes a list of frames, one per job (all batch rows of every input),
which run() cycles through: job i runs on frame i % len(frames), as benchmark_app -i does.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from vart_async._specs import HasSlots, TensorSpec

#: Images --input-data decodes (with Pillow), resized to the input's height and width.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
#: At most this many frames are loaded (each is copied into a slot before its job).
MAX_FRAMES = 100_000
#: At most this many bytes of frames in memory.
MAX_FRAME_BYTES = 4 << 30

Frame = tuple[npt.NDArray[Any], ...]


class InputDataError(ValueError):
    """--input-data cannot be used for this model (the message says why)."""


def random_like(
    rng: np.random.Generator, shape: Sequence[int], dtype: np.dtype[Any], bf16: bool = False
) -> Any:
    """Random values of `dtype` and `shape` (see the module's rules)."""
    if bf16:  # the upper half of a float32 is its bfloat16 value
        return (_floats(rng, shape, np.dtype(np.float32)).view(np.uint32) >> 16).astype(np.uint16)
    if dtype.kind == "f":
        return _floats(rng, shape, dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    raise ValueError(f"no random fill for dtype {dtype}")


def _floats(rng: np.random.Generator, shape: Sequence[int], dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    x = rng.random(tuple(shape)).astype(dtype)
    x[x < np.finfo(dtype).smallest_normal] = 0  # no denormals (slow on many CPUs, never real data)
    below_one = np.nextafter(dtype.type(1), dtype.type(0))
    np.minimum(x, below_one, out=x)  # a narrow float can round up to 1.0
    return x


def fill_random(session: HasSlots, seed: int = 0) -> None:
    """Fills every slot's input buffers, each slot with its own reproducible random values."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0 (got {seed!r})")
    rng = np.random.default_rng(seed)
    for slot in session.slots:
        for array, spec in zip(slot.inputs, session.inputs, strict=True):
            array[...] = random_like(rng, array.shape, array.dtype, spec.dtype == "bfloat16")


def check_frames(frames: Sequence[Sequence[npt.NDArray[Any]]], inputs: Sequence[TensorSpec]) -> list[Frame]:
    """Frames for run(frames=...): one array per input, each C-contiguous, of the input's dtype
    and size; ValueError naming the first that is not."""
    if isinstance(frames, np.ndarray | str | bytes) or len(frames) == 0:  # type: ignore[unreachable]
        raise ValueError("frames must be a non-empty sequence of frames (one array per model input each)")
    if len(frames) > MAX_FRAMES:
        raise ValueError(f"at most {MAX_FRAMES} frames (got {len(frames)})")
    out: list[Frame] = []
    for i, frame in enumerate(frames):
        arrays = (frame,) if isinstance(frame, np.ndarray) else tuple(frame)  # type: ignore[unreachable]
        if len(arrays) != len(inputs):
            raise ValueError(f"frame {i} has {len(arrays)} array(s); the model has {len(inputs)} input(s)")
        for a, spec in zip(arrays, inputs, strict=True):
            if not isinstance(a, np.ndarray):
                raise ValueError(f"frame {i}: {type(a).__name__} is not a numpy array")
            if a.dtype != spec.numpy_dtype or a.nbytes != spec.nbytes or not a.flags.c_contiguous:
                raise ValueError(
                    f"frame {i}, input {spec.name!r}: needs a C-contiguous {spec.dtype} array of "
                    f"{spec.nbytes} bytes (shape {list(spec.shape)}); got {a.dtype} {list(a.shape)}"
                    + ("" if a.flags.c_contiguous else ", not contiguous")
                )
        out.append(arrays)
    return out


# -- --input-data ------------------------------------------------------------------------------------
def load_frames(
    path: str, inputs: Sequence[TensorSpec], batch_size: int
) -> tuple[list[Frame], dict[str, Any]]:
    """Frames from `path`: a .npy (or .npz with one array per input name), a directory of .npy /
    image / raw files (sorted by name), or one image. Returns (frames, what was read)."""
    p = Path(path)
    if not p.exists():
        raise InputDataError(f"--input-data path does not exist: {path}")
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
        if not files:
            raise InputDataError(f"--input-data directory {path} has no files")
        if len(files) > MAX_FRAMES * max(1, batch_size):
            raise InputDataError(f"--input-data directory {path} holds more than {MAX_FRAMES} frames")
    elif p.is_file():
        files = [p]
    else:
        raise InputDataError(f"--input-data is not a regular file or a directory: {path}")
    if len(inputs) > 1 and not all(f.suffix.lower() == ".npz" for f in files):
        names = ", ".join(s.name for s in inputs)
        raise InputDataError(
            f"the model has {len(inputs)} inputs ({names}): give .npz files with one array per input"
        )
    rows: list[list[npt.NDArray[Any]]] = [[] for _ in inputs]
    total = 0
    for f in files:
        for t, row_block in enumerate(_read(f, inputs, batch_size)):
            rows[t].extend(row_block)
            total += sum(r.nbytes for r in row_block)
        if total > MAX_FRAME_BYTES:
            raise InputDataError(f"--input-data holds more than {MAX_FRAME_BYTES >> 30} GiB of frames")
    counts = {len(r) for r in rows}
    if len(counts) != 1:
        raise InputDataError("--input-data: the inputs got different numbers of rows")
    n_rows = counts.pop()
    # A last frame short of rows takes them from the start (cycled).
    n_frames = min(MAX_FRAMES, -(-n_rows // batch_size))
    frames: list[Frame] = []
    for j in range(n_frames):
        picked = [(j * batch_size + b) % n_rows for b in range(batch_size)]
        frames.append(tuple(np.ascontiguousarray(np.stack([rows[t][r] for r in picked]).reshape(s.shape))
                            for t, s in enumerate(inputs)))  # fmt: skip
    source = {"source": "input-data", "path": os.fspath(path), "files": len(files), "rows": n_rows,
              "frames": len(frames)}  # fmt: skip
    return frames, source


def _row_shape(spec: TensorSpec, batch_size: int) -> tuple[int, ...]:
    return tuple(spec.shape[1:]) if spec.shape and spec.shape[0] == batch_size else tuple(spec.shape)


def _read(f: Path, inputs: Sequence[TensorSpec], batch_size: int) -> list[list[npt.NDArray[Any]]]:
    """One file's rows, per input."""
    suffix = f.suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(f, allow_pickle=False) as z:
                missing = [s.name for s in inputs if s.name not in z.files]
                if missing:
                    has = ", ".join(z.files)
                    raise InputDataError(f"{f}: no array named {', '.join(missing)} (it has {has})")
                return [_rows_of(z[s.name], s, batch_size, f) for s in inputs]
        if suffix == ".npy":  # mapped: its size is checked before anything is read
            return [_rows_of(np.load(f, allow_pickle=False, mmap_mode="r"), inputs[0], batch_size, f)]
        if suffix in IMAGE_SUFFIXES:
            return [[_image_row(f, inputs[0], batch_size)]]
        return [_raw_rows(f, inputs[0], batch_size)]
    except InputDataError:
        raise
    except (OSError, ValueError, EOFError) as e:
        raise InputDataError(f"--input-data: cannot read {f}: {e}") from None


def _rows_of(a: npt.NDArray[Any], spec: TensorSpec, batch_size: int, f: Path) -> list[npt.NDArray[Any]]:
    row = _row_shape(spec, batch_size)
    target = spec.numpy_dtype
    if a.size * target.itemsize > MAX_FRAME_BYTES:
        raise InputDataError(f"{f}: more than {MAX_FRAME_BYTES >> 30} GiB of frames")
    if spec.dtype == "bfloat16" or not np.can_cast(a.dtype, target, "same_kind"):
        raise InputDataError(f"{f}: {a.dtype} data cannot feed input {spec.name!r} ({spec.dtype})")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise InputDataError(f"{f}: holds NaN or Inf")
    per_row = int(np.prod(row)) if row else 1
    if a.size == 0 or a.size % per_row:
        raise InputDataError(
            f"{f}: {a.size} values are not a whole number of rows of input {spec.name!r} (shape {list(row)})"
        )
    return list(a.astype(target, copy=False).reshape(-1, *row))


def _raw_rows(f: Path, spec: TensorSpec, batch_size: int) -> list[npt.NDArray[Any]]:
    row = _row_shape(spec, batch_size)
    data = np.fromfile(f, dtype=np.uint8)
    per_row = spec.row_nbytes if spec.shape and spec.shape[0] == batch_size else spec.nbytes
    if data.size == 0 or data.size % per_row:
        raise InputDataError(
            f"{f}: {data.size} bytes are not a whole number of {per_row}-byte rows of {spec.name!r}"
        )
    return list(data.view(spec.numpy_dtype).reshape(-1, *row))


def _image_row(f: Path, spec: TensorSpec, batch_size: int) -> npt.NDArray[Any]:
    try:
        from PIL import Image
    except ImportError:
        raise InputDataError("decoding images needs Pillow: pip install 'vart-async[images]'") from None
    row = _row_shape(spec, batch_size)
    layout = spec.layout.upper().lstrip("N") if spec.layout else ""
    if len(row) != 3 or layout not in ("CHW", "HWC", ""):
        raise InputDataError(
            f"input {spec.name!r} (shape {list(row)}, layout {spec.layout!r}) is not an image"
        )
    channels_first = layout == "CHW" or (layout == "" and row[0] in (1, 3) and row[2] not in (1, 3))
    c, h, w = (row[0], row[1], row[2]) if channels_first else (row[2], row[0], row[1])
    if c not in (1, 3):
        raise InputDataError(f"input {spec.name!r} has {c} channels: images give 1 or 3")
    with Image.open(f) as opened:
        im = opened.convert("L" if c == 1 else "RGB").resize((w, h), Image.Resampling.BILINEAR)
        pixels = np.asarray(im, dtype=np.uint8).reshape(h, w, c)
    if channels_first:
        pixels = pixels.transpose(2, 0, 1)
    if spec.dtype == "bfloat16":
        raise InputDataError(f"input {spec.name!r} is bfloat16: give .npy data instead of images")
    return np.ascontiguousarray(pixels.astype(spec.numpy_dtype))
