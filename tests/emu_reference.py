"""Pure-Python reference of the VART-ML emulator's output function (docs/emulator.md, "Output function").

Tests use it to recompute, from the input bytes of a batch row, the exact output bytes the emulator
writes for that row. It mirrors csrc/vart_emu/src/output_fn.cpp; tests/test_emu_reference.py and
tests/cpp/test_emulator_faults_outputs.cpp assert the same known vectors, so the two cannot drift apart.

It imports numpy only, never vart_async.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
OUTPUT_SALT = 0xD1B54A32D192ED03
# Word j of an input tensor goes to lane j % 4 (four independent chains; see the docs).
LANE_SEEDS = (0x243F6A8885A308D3, 0x13198A2E03707344, 0xA4093822299F31D0, 0x082EFA98EC4E6C89)

# VART DataType name -> (bytes per element, numpy dtype of the output array). BF16 has no numpy
# dtype: its outputs are returned as their uint16 bit patterns.
DATA_TYPES: dict[str, tuple[int, np.dtype]] = {
    "BOOLEAN": (1, np.dtype(np.bool_)),
    "INT8": (1, np.dtype(np.int8)),
    "UINT8": (1, np.dtype(np.uint8)),
    "INT16": (2, np.dtype("<i2")),
    "UINT16": (2, np.dtype("<u2")),
    "BF16": (2, np.dtype("<u2")),
    "FP16": (2, np.dtype("<f2")),
    "INT32": (4, np.dtype("<i4")),
    "UINT32": (4, np.dtype("<u4")),
    "FLOAT32": (4, np.dtype("<f4")),
    "INT64": (8, np.dtype("<i8")),
    "UINT64": (8, np.dtype("<u8")),
}


def mix64(z: int) -> int:
    """The SplitMix64 finaliser, on unsigned 64-bit integers (wrapping arithmetic)."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def _as_bytes(data: bytes | bytearray | memoryview | np.ndarray) -> bytes:
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).tobytes()
    return bytes(data)


def row_hash(inputs: Iterable[bytes | bytearray | memoryview | np.ndarray]) -> int:
    """Hash of one batch row: its input tensors in model order, each exactly `size_in_bytes` bytes
    of the view the runner accepts (HW or CPU)."""
    h = GOLDEN
    for tensor in inputs:
        data = _as_bytes(tensor)
        lanes = [h ^ seed for seed in LANE_SEEDS]
        for j in range(0, len(data), 8):
            word = int.from_bytes(data[j : j + 8], "little")  # a partial last word is zero-padded
            k = (j // 8) % 4
            lanes[k] = mix64(lanes[k] ^ word)
        for lane in lanes:
            h = mix64(h ^ lane)
        h = mix64(h ^ len(data))
    return h


class _Stream:
    def __init__(self, seed: int) -> None:
        self.s = seed & MASK64

    def next(self) -> int:
        self.s = (self.s + GOLDEN) & MASK64
        return mix64(self.s)

    def next_float(self) -> float:
        """In [-1, 1): 24 random bits, exactly representable as a float32."""
        return (self.next() >> 40) * 2.0**-24 * 2.0 - 1.0


def _bfloat16_bits(values: np.ndarray) -> np.ndarray:
    bits = values.astype("<f4").view("<u4").astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16  # round to nearest, ties to even
    return rounded.astype("<u2")


def output_bytes(h: int, index: int, data_type: str, elements: int) -> bytes:
    """The bytes of output tensor number `index` (model order) of a row whose inputs hashed to `h`."""
    dt = data_type.upper()
    size, _ = DATA_TYPES[dt]
    stream = _Stream(h ^ ((OUTPUT_SALT * (index + 1)) & MASK64))
    if dt == "BOOLEAN":
        return bytes(stream.next() & 1 for _ in range(elements))
    if dt in ("FLOAT32", "FP16", "BF16"):
        values = np.array([stream.next_float() for _ in range(elements)], dtype="<f4")
        if dt == "FLOAT32":
            return values.tobytes()
        if dt == "FP16":
            return values.astype("<f2").tobytes()  # numpy rounds to nearest, ties to even
        return _bfloat16_bits(values).tobytes()
    nbytes = size * elements
    out = bytearray()
    while len(out) < nbytes:
        out += stream.next().to_bytes(8, "little")
    return bytes(out[:nbytes])


def row_outputs(
    inputs: Sequence[bytes | bytearray | memoryview | np.ndarray], outputs: Sequence[tuple[str, int]]
) -> list[np.ndarray]:
    """The outputs of one batch row: `outputs` lists (data type name, number of elements) per output
    tensor in model order. Returns flat arrays (BF16 as uint16 bit patterns)."""
    h = row_hash(inputs)
    result = []
    for index, (dt, elements) in enumerate(outputs):
        raw = output_bytes(h, index, dt, elements)
        result.append(np.frombuffer(raw, dtype=DATA_TYPES[dt.upper()][1]).copy())
    return result


def source_row(r: int, in_rows: int, out_rows: int) -> int:
    """The input row output row `r` is computed from, when a call passes `in_rows` input rows and
    `out_rows` output rows: floor(r x in_rows / out_rows), the identity for equal counts."""
    if not 0 <= r < out_rows or in_rows < 1:
        raise ValueError(f"output row {r} of {out_rows} for {in_rows} input rows")
    return r * in_rows // out_rows


def batch_outputs(
    rows: Sequence[Sequence[bytes | bytearray | memoryview | np.ndarray]],
    outputs: Sequence[tuple[str, int]],
    out_rows: int,
) -> list[list[np.ndarray]]:
    """The outputs of one call: `rows` holds each input row's tensors; returns `out_rows` rows of
    flat output arrays (see row_outputs), row r computed from input row source_row(r, ...)."""
    by_source: dict[int, list[np.ndarray]] = {}
    result = []
    for r in range(out_rows):
        b = source_row(r, len(rows), out_rows)
        if b not in by_source:
            by_source[b] = row_outputs(rows[b], outputs)
        result.append([a.copy() for a in by_source[b]])
    return result


def jitter_us(job_id: int, jitter: float) -> float:
    """The extra service time of async job `job_id` when service_jitter_us = `jitter`."""
    if jitter <= 0:
        return 0.0
    return jitter * ((mix64(job_id) >> 11) * 2.0**-53)


def fnv1a64(data: bytes) -> int:
    """FNV-1a (64-bit) digest, used by the tests to compare large outputs compactly."""
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & MASK64
    return h
